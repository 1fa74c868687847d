/** `/docs`: a readable reference of the API, rendered from the OpenAPI document (no script, no CDN). */
export function docsPage(doc: Record<string, unknown>): string {
  const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const info = doc.info as { title: string; version: string; description: string };
  const paths = doc.paths as Record<string, Record<string, { summary: string; parameters: { name: string; in: string; description?: string; required?: boolean }[]; requestBody?: { content: Record<string, { schema: unknown }> }; responses: Record<string, unknown> }>>;
  const groups = new Map<string, string[]>();
  for (const [path, ops] of Object.entries(paths)) {
    const group = path.split('/')[2] ?? '';
    for (const [method, op] of Object.entries(ops)) {
      const id = `${method}-${path}`.replace(/[^A-Za-z0-9-]/g, '-');
      const params = op.parameters.length === 0 ? '' : `<table><caption>Parameters</caption><thead><tr><th scope="col">name</th><th scope="col">in</th><th scope="col">description</th></tr></thead><tbody>${
        op.parameters.map((p) => `<tr><td><code>${esc(p.name)}</code>${p.required ? ' (required)' : ''}</td><td>${esc(p.in)}</td><td>${esc(p.description ?? '')}</td></tr>`).join('')}</tbody></table>`;
      const body = op.requestBody ? `<details><summary>Request body (application/json)</summary><pre>${esc(JSON.stringify(op.requestBody.content['application/json']!.schema, null, 2))}</pre></details>` : '';
      const ok = Object.keys(op.responses).find((s) => s.startsWith('2'));
      const html = `<section id="${esc(id)}"><h3><span class="m ${esc(method)}">${esc(method.toUpperCase())}</span> <code>${esc(path)}</code></h3><p>${esc(op.summary)}. Answers ${esc(ok)}.</p>${params}${body}</section>`;
      groups.set(group, [...(groups.get(group) ?? []), html]);
    }
  }
  const sections = [...groups].map(([g, ops]) => `<h2 id="${esc(g)}">${esc(g)}</h2>${ops.join('')}`).join('');
  const nav = [...groups.keys()].map((g) => `<li><a href="#${esc(g)}">${esc(g)}</a></li>`).join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(info.title)} API ${esc(info.version)}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}code,pre{font-family:ui-monospace,monospace}pre{background:#f3f3f3;padding:.75rem;overflow:auto}
table{border-collapse:collapse;margin:.5rem 0}th,td{border:1px solid #bbb;padding:.25rem .5rem;text-align:left}caption{text-align:left;font-weight:600}
.m{display:inline-block;min-width:4.5rem;padding:0 .4rem;border-radius:.25rem;color:#fff;background:#333;font-size:.9rem}.get{background:#1d5e9e}.post{background:#1f6b3a}.put{background:#7a4a00}.delete{background:#9b1c1c}</style></head>
<body><header><h1>${esc(info.title)} API <small>${esc(info.version)}</small></h1><p>${esc(info.description)}</p><p>Machine-readable: <a href="/v1/openapi.json">/v1/openapi.json</a> (OpenAPI 3.1).</p></header>
<nav aria-label="Resources"><ul>${nav}</ul></nav><main>${sections}</main></body></html>`;
}
