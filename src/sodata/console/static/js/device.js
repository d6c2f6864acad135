// A device: its identity, gateway and child devices, its items and variables, and the Last
// values table of spec 5.9.1 (Parameters | Last Values | Unit | Date), refreshed on its own.
import { catalog, get, page, paths } from "./api.js";
import {
  html, useEffect, useState, useAnswer, Link, ErrorBox, Loading, formatDate, formatNumber,
  titleOf, unitOf, navigate,
} from "./ui.js";

const REFRESH_MS = 15_000;

export const mappingOf = (v) => `${v.itemType}|${v.itemIndex}|${v.serviceId}`;
export const historyOf = (ca, series) =>
  `/console/ca/${ca}/history?${series.map((s) => `series=${encodeURIComponent(s)}`).join("&")}`;

function Identity({ ca, device }) {
  const site = useAnswer((signal) => get(paths.site(ca, device.siteUuid), undefined, signal), [device.siteUuid]);
  const gateway = useAnswer(
    (signal) => (device.gatewayUuid ? get(paths.gateway(ca, device.uuid), undefined, signal) : Promise.resolve(null)),
    [device.uuid],
  );
  const children = useAnswer(
    (signal) => page(paths.devices(ca), { gatewayUuid: device.uuid, sortBy: "name", readable: true }, signal),
    [device.uuid],
  );
  const home = `/console/ca/${ca}`;
  const rows = [
    ["Type", [device.manufacturer, device.modelName, device.deviceTypeReferenceId && `(${device.deviceTypeReferenceId})`].filter(Boolean).join(" ")],
    ["Serial number", device.serialNumber],
    ["Site", site.data ? html`<${Link} href=${`${home}?view=devices&site=${device.siteUuid}`}>${site.data.name}</${Link}>` : ""],
    ["Status", device.status],
    ["Time zone", device.timeZone],
    ["Gateway", gateway.data ? html`<${Link} href=${`${home}/devices/${gateway.data.uuid}`}>${gateway.data.name}</${Link}>` : "—"],
  ];
  const kids = children.data?.results || [];
  return html`<dl class="identity">
      ${rows.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}
      ${kids.length
        ? html`<dt>Child devices</dt><dd><ul class="inline">
            ${kids.map((c) => html`<li><${Link} href=${`${home}/devices/${c.uuid}`}>${c.name}</${Link}></li>`)}
            ${children.data.total > kids.length ? html`<li class="muted">and ${children.data.total - kids.length} more</li>` : null}
          </ul></dd>`
        : null}
    </dl>
    <${ErrorBox} error=${site.error || gateway.error || children.error} />`;
}

function LastValues({ ca, device, values, services, updatedAt }) {
  return html`<section aria-labelledby="last-values">
    <h2 id="last-values">Last values <small class="muted">updated ${formatDate(updatedAt)}</small></h2>
    ${values.length
      ? html`<table class="list last-values">
          <thead><tr><th>Parameters</th><th>Last Values</th><th>Unit</th><th>Date</th></tr></thead>
          <tbody>${values.map(
            (v) => html`<tr>
              <td><${Link} href=${historyOf(ca, [`${device.uuid}:${mappingOf(v)}`])}>${v.itemName || v.itemType} ${titleOf(v)}</${Link}></td>
              <td class="num">${formatNumber(v.value)}</td>
              <td>${unitOf(v, services)}</td>
              <td>${formatDate(v.date)}</td>
            </tr>`,
          )}</tbody>
        </table>`
      : html`<p class="muted">This device has sent no value yet.</p>`}
  </section>`;
}

function Variables({ ca, device, services }) {
  const { data, error } = useAnswer((signal) => get(paths.variables(ca, device.uuid), undefined, signal), [device.uuid]);
  const [chosen, setChosen] = useState(new Set());
  if (error) return html`<${ErrorBox} error=${error} />`;
  if (!data) return html`<${Loading} what="Loading the variables" />`;
  const toggle = (key) => {
    const next = new Set(chosen);
    next.has(key) ? next.delete(key) : next.add(key);
    setChosen(next);
  };
  const numeric = (v) => (services?.get(v.serviceId)?.dataType ?? "number") === "number";
  return html`<section aria-labelledby="variables">
    <h2 id="variables">Items and variables</h2>
    <table class="list variables">
      <thead><tr><th></th><th>Item</th><th>Variable</th><th>Service</th><th>Unit</th><th>Type</th></tr></thead>
      <tbody>${data.results.map((v) => {
        const key = `${device.uuid}:${mappingOf(v)}`;
        return html`<tr>
          <td>${numeric(v) ? html`<input type="checkbox" aria-label=${`Chart ${titleOf(v)}`} checked=${chosen.has(key)} onChange=${() => toggle(key)} />` : null}</td>
          <td>${v.itemType} ${v.itemIndex}</td><td>${titleOf(v)}</td><td>${v.serviceId}</td>
          <td>${unitOf(v, services)}</td><td>${v.serviceType}</td></tr>`;
      })}</tbody>
    </table>
    <button type="button" disabled=${!chosen.size} onClick=${() => navigate(historyOf(ca, [...chosen]))}>
      Historical data of the ${chosen.size || ""} selected</button>
  </section>`;
}

export function Device({ ca, device: uuid }) {
  const device = useAnswer((signal) => get(paths.device(ca, uuid), undefined, signal), [uuid]);
  const services = useAnswer(() => catalog(), []);
  // The device's data: a device outside the user's data access groups answers 404 here, and
  // the console shows nothing of it.
  const [last, setLast] = useState({ values: null, error: null, at: null });
  useEffect(() => {
    let stop = false;
    const controller = new AbortController();
    const load = () =>
      get(paths.lastValues(ca, uuid), undefined, controller.signal).then(
        (answer) => stop || setLast({ values: answer.devices[0]?.values || [], error: null, at: new Date() }),
        (error) => stop || error.name === "AbortError" || setLast((s) => ({ ...s, error })),
      );
    load();
    const timer = setInterval(load, REFRESH_MS);
    return () => {
      stop = true;
      clearInterval(timer);
      controller.abort();
    };
  }, [ca, uuid]);

  if (last.error?.status === 404 || device.error?.status === 404)
    return html`<h1>Device not found</h1><p class="notice" role="status">There is no device ${uuid}
      whose data you may read in this corporate account.</p><p><${Link} href=${`/console/ca/${ca}`}>Back to the devices</${Link}></p>`;
  if (device.error) return html`<${ErrorBox} error=${device.error} />`;
  if (!device.data || !last.values) return html`<${ErrorBox} error=${last.error} /><${Loading} />`;
  const d = device.data;
  return html`
    <h1>${d.name}</h1>
    <p><${Link} href=${`/console/ca/${ca}/history?device=${d.uuid}`} class="button">Historical data</${Link}></p>
    <${Identity} ca=${ca} device=${d} />
    <${ErrorBox} error=${last.error} />
    <${LastValues} ca=${ca} device=${d} values=${last.values} services=${services.data} updatedAt=${last.at} />
    <${Variables} ca=${ca} device=${d} services=${services.data} />`;
}
