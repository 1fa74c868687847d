import { realpath } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { HostPolicy } from '../types.js';
import { isInside } from './paths.js';

/**
 * The real paths of a policy's folders, resolved once per connector: an allowed root given
 * through a symlink (/tmp on some systems) must match the real path a remote's root resolves to.
 * A folder that does not exist (yet) is kept as written.
 */
export class ResolvedPolicy {
  private resolved: Promise<{ roots: string[] | null; hidden: string[] }> | undefined;

  constructor(private readonly policy: HostPolicy) {}

  private paths() {
    const real = (p: string) => realpath(p).catch(() => resolve(p));
    this.resolved ??= Promise.all([
      this.policy.localRoots === null ? Promise.resolve(null) : Promise.all(this.policy.localRoots.map(real)),
      Promise.all(this.policy.protectedPaths.map(real)),
    ]).then(([roots, hidden]) => ({ roots, hidden }));
    return this.resolved;
  }

  /** Why a remote may not have this (real) root, or null when it may. */
  async rootProblem(real: string, configured: string): Promise<string | null> {
    const { roots, hidden } = await this.paths();
    if (hidden.some((h) => isInside(h, real))) return `the folder "${configured}" is inside knarr's own data directory, which no remote may reach`;
    if (roots !== null && !roots.some((r) => isInside(r, real))) return outsideRoots(configured, this.policy.localRoots!);
    return null;
  }

  /** Whether a real path inside the root is knarr's own data (left out of listings, never found). */
  async isHidden(real: string): Promise<boolean> {
    return (await this.paths()).hidden.some((h) => isInside(h, real));
  }
}

/**
 * The API's check before it saves a remote, by the path as written (the worker checks again by
 * real path when it opens the remote, which catches a symlink out of an allowed root).
 */
export function localRootProblem(policy: HostPolicy, root: string): string | null {
  const abs = resolve(root);
  if (policy.protectedPaths.some((h) => isInside(resolve(h), abs))) return `the folder "${root}" is inside knarr's own data directory, which no remote may reach`;
  if (policy.localRoots !== null && !policy.localRoots.some((r) => isInside(resolve(r), abs))) return outsideRoots(root, policy.localRoots);
  return null;
}

function outsideRoots(root: string, roots: readonly string[]): string {
  return roots.length === 0
    ? `local remotes are not allowed on this server: its operator allows none (set KNARR_LOCAL_ROOTS to the folders users may name, e.g. /srv/share)`
    : `the folder "${root}" is outside the folders this server allows for local remotes (KNARR_LOCAL_ROOTS: ${roots.join(', ')})`;
}
