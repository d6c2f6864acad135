// "Welcome! Select a corporate account" (spec 3.1), with a search box. A user with one account
// goes straight to it.
import { page, paths } from "./api.js";
import { html, useEffect, useLocation, useAnswer, Link, ErrorBox, Loading, SearchBox, Pager, navigate } from "./ui.js";

export function Accounts() {
  const { query } = useLocation();
  const name = query.get("name") || "";
  const skip = Number(query.get("skip")) || 0;
  const { data, error, loading } = useAnswer(
    (signal) => page(paths.accounts, { name, skip, sortBy: "name" }, signal),
    [name, skip],
  );
  const only = !name && !skip && data?.total === 1 ? data.results[0] : null;
  useEffect(() => {
    if (only) navigate(`/console/ca/${only.uuid}`, { replace: true });
  }, [only]);

  let body;
  if (error) body = html`<${ErrorBox} error=${error} />`;
  else if (loading || only) body = html`<${Loading} />`;
  else if (!data.total && !name)
    body = html`<p class="notice" role="status">Your user is not linked to any corporate account yet.
      Ask an administrator of your organisation's account to add you to it; then sign in again.</p>`;
  else
    body = html`
      <ul class="cards accounts">
        ${data.results.map(
          (a) => html`<li><${Link} href=${`/console/ca/${a.uuid}`} class="card">
            <strong>${a.name}</strong>
            <span class="muted">${a.isMultiCustomerAccount ? "Multi-customer" : "Single customer"}${a.active ? "" : " · inactive"}</span>
          </${Link}></li>`,
        )}
      </ul>
      ${data.total ? null : html`<p class="muted">No corporate account matches “${name}”.</p>`}
      <${Pager} total=${data.total} skip=${skip} />`;
  return html`<section>
    <h1>Welcome! Select a corporate account</h1>
    <${SearchBox} placeholder="Search a corporate account" />
    ${body}
  </section>`;
}
