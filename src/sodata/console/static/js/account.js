// The account home (spec 3.1): its data access groups with their customer counts, then its
// customers > sites > devices, each a list with search and server-side paging.
import { get, page, paths } from "./api.js";
import {
  html, useLocation, useAnswer, Link, ErrorBox, Loading, SearchBox, Pager, withQuery, flag,
} from "./ui.js";

const VIEWS = [
  ["devices", "Devices"],
  ["sites", "Sites"],
  ["customers", "Customers"],
];

function Groups({ ca }) {
  const { data, error } = useAnswer(
    (signal) => get(paths.groups(ca), { take: 100, sortBy: "name" }, signal),
    [ca],
  );
  if (error?.status === 403) return null; // groups are for the account's managers to see
  if (error) return html`<${ErrorBox} error=${error} />`;
  if (!data) return html`<${Loading} what="Loading the data access groups" />`;
  if (!data.total) return null;
  return html`<section aria-labelledby="groups">
    <h2 id="groups">Data access groups</h2>
    <ul class="cards groups">
      ${data.results.map(
        (g) => html`<li class="card" title=${g.description || ""}>
          <span class="flag" aria-hidden="true">${flag(g.countryCode)}</span>
          <strong>${g.name}</strong>
          <span class="quantity">${g.customersQuantity} CUSTOMERS</span>
          <span class="muted">${g.devicesQuantity} devices · ${g.usersQuantity} users</span>
        </li>`,
      )}
    </ul>
  </section>`;
}

/** "Customer: X ×" above a list filtered by a customer or a site. */
function Filter({ label, path, param }) {
  const { data } = useAnswer((signal) => get(path, undefined, signal), [path]);
  return html`<span class="chip">${label}: ${data?.name ?? "…"}
    <${Link} href=${withQuery({ [param]: null, skip: null })} aria-label=${`Remove the ${label.toLowerCase()} filter`}>×</${Link}></span>`;
}

function List({ ca, view, query }) {
  const name = query.get("name") || "";
  const skip = Number(query.get("skip")) || 0;
  const customer = query.get("customer");
  const site = query.get("site");
  const params = {
    name, skip, sortBy: "name",
    ...(view !== "customers" && customer ? { customerUuid: customer } : {}),
    ...(view === "devices" && site ? { siteUuid: site } : {}),
    // the devices whose data this user may read: the others are not the console's to show
    ...(view === "devices" ? { readable: true } : {}),
  };
  const { data, error, loading } = useAnswer(
    (signal) => page(paths[view](ca), params, signal),
    [ca, view, name, skip, customer, site],
  );
  const home = `/console/ca/${ca}`;
  const rows = {
    customers: (c) => html`<tr>
      <td><${Link} href=${`${home}?view=sites&customer=${c.uuid}`}>${c.name}</${Link}></td>
      <td>${c.description}</td><td class="num">${c.sitesQuantity}</td></tr>`,
    sites: (s) => html`<tr>
      <td><${Link} href=${`${home}?view=devices&site=${s.uuid}`}>${s.name}</${Link}></td>
      <td>${s.timeZone}</td><td class="num">${s.devicesQuantity}</td></tr>`,
    devices: (d) => html`<tr>
      <td><${Link} href=${`${home}/devices/${d.uuid}`}>${d.name}</${Link}></td>
      <td>${d.serialNumber}</td><td>${[d.manufacturer, d.modelName].filter(Boolean).join(" ")}</td>
      <td>${d.status}</td><td>${d.timeZone}</td></tr>`,
  }[view];
  const heads = {
    customers: ["Name", "Description", "Sites"],
    sites: ["Name", "Time zone", "Devices"],
    devices: ["Name", "Serial number", "Model", "Status", "Time zone"],
  }[view];
  return html`
    <div class="toolbar">
      <${SearchBox} placeholder=${view === "devices" ? "Search by name or serial number" : "Search by name"} />
      ${view !== "customers" && customer ? html`<${Filter} label="Customer" path=${`${paths.customers(ca)}/${customer}`} param="customer" />` : null}
      ${view === "devices" && site ? html`<${Filter} label="Site" path=${paths.site(ca, site)} param="site" />` : null}
    </div>
    <${ErrorBox} error=${error} />
    ${loading && !data ? html`<${Loading} />` : null}
    ${data
      ? html`<table class=${`list ${view}`} aria-busy=${loading}>
          <thead><tr>${heads.map((h) => html`<th>${h}</th>`)}</tr></thead>
          <tbody>${data.results.map(rows)}</tbody>
        </table>
        ${data.total ? null : html`<p class="muted">Nothing matches.</p>`}
        <${Pager} total=${data.total} skip=${skip} />`
      : null}`;
}

export function Account({ ca }) {
  const { query } = useLocation();
  const view = VIEWS.some(([v]) => v === query.get("view")) ? query.get("view") : "devices";
  const account = useAnswer((signal) => get(paths.account(ca), undefined, signal), [ca]);
  if (account.error) return html`<${ErrorBox} error=${account.error} />`;
  return html`
    <h1>${account.data?.name ?? ""}</h1>
    <${Groups} ca=${ca} />
    <section aria-label="Customers, sites and devices">
      <nav class="tabs">
        ${VIEWS.map(
          ([v, label]) => html`<${Link} href=${`/console/ca/${ca}?view=${v}`}
            aria-current=${v === view ? "page" : undefined}>${label}</${Link}>`,
        )}
        <${Link} href=${`/console/ca/${ca}/history`}>Historical data</${Link}>
      </nav>
      <${List} ca=${ca} view=${view} query=${query} />
    </section>`;
}
