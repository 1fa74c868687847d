#!/usr/bin/env node
// The `knarr` command that `npm install -g` and `npx knarr` link: start.mjs is run with an
// explicit `node` everywhere else and has no shebang line of its own.
import './start.mjs';
