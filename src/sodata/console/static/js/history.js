// Historical data (spec 5.8.1): variables of one or several devices, a period, the time zone,
// a granularity from raw to year and an aggregation; a chart, the table
// "Date (01/05/22 - 28/07/22)" | "<device> : <item> <variable> <unit>" (aggregation below),
// and Download: a CSV of exactly that. Everything is in the address, so a link shows the same.
import { api, catalog, get, page, paths } from "./api.js";
import {
  html, useEffect, useMemo, useState, useLocation, useAnswer, Link, ErrorBox, Loading,
  navigate, withQuery, titleOf, unitOf, formatDate, formatNumber,
} from "./ui.js";
import { Chart } from "./chart.js";
import { PERIODS, periodRange, wallClock, isoInZone, zones, viewerZone } from "./time.js";
import { mappingOf } from "./device.js";

const GRANULARITIES = ["raw", "minute", "hour", "day", "week", "month", "year"];
const AGGREGATIONS = {
  avg: "Average", min: "Minimum", max: "Maximum", count: "Count", sum: "Sum",
  var: "Variance", stdev: "Standard deviation",
  first: "First value", last: "Last value", delta: "Increase (counter)", twa: "Time-weighted average",
};
/** What an aggregation that its name does not say computes: the tooltip of its choice. */
const EXPLAINED = {
  first: "The value of the earliest point of each bucket.",
  last: "The value of the latest point of each bucket.",
  delta: "How much a cumulative counter (e.g. an energy meter) increased in each bucket. " +
    "A drop larger than the variable's reset threshold is a reset: the counter restarted from zero.",
  twa: "The average over time: each value holds until the next point " +
    "(at most the variable's carry limit), so values held longer weigh more.",
};
const PAGE_POINTS = 50_000; // points per series per answer while following nextAfter
const TABLE_ROWS = 200;
const PRECISION_OF = { raw: "second", minute: "minute", hour: "minute", day: "day", week: "day", month: "day", year: "day" };
const CANCEL = "cancelled by the user"; // the abort reason of the Cancel button

// --- what the address says ---

function settingsOf(query) {
  const period = PERIODS.some(([p]) => p === query.get("period")) ? query.get("period") : "7d";
  const granularity = GRANULARITIES.includes(query.get("granularity")) ? query.get("granularity") : "hour";
  const aggregation = query.get("aggregation") in AGGREGATIONS ? query.get("aggregation") : "avg";
  return {
    series: query.getAll("series").filter((s) => /^[0-9a-f-]{36}:[^|]+\|[^|]*\|[^|]+$/i.test(s)),
    period,
    from: query.get("from") || "",
    to: query.get("to") || "",
    zone: query.get("zone") || "device", // "device": each device's own zone
    granularity,
    aggregation,
  };
}

// --- the variables chosen: their devices and titles, read once per device ---

const deviceCache = new Map();
/** A device and its variables, if its data is the user's to read: its last values answer 404
 * otherwise, and the console names nothing of it. */
function deviceWithVariables(ca, uuid) {
  const key = `${ca}/${uuid}`;
  if (!deviceCache.has(key)) {
    const loading = Promise.all([
      get(paths.device(ca, uuid)),
      get(paths.variables(ca, uuid)),
      get(paths.lastValues(ca, uuid)),
    ]).then(([device, variables]) => ({ device, variables: variables.results }));
    loading.catch(() => deviceCache.delete(key));
    deviceCache.set(key, loading);
  }
  return deviceCache.get(key);
}

/** "Delphys GP2 - 160 kVA : Global Ups output global load rate %" */
function labelOf(device, variable, services) {
  const item = variable.itemIndex === "0" ? variable.itemType : `${variable.itemType} ${variable.itemIndex}`;
  return `${device.name} : ${item} ${titleOf(variable)} ${unitOf(variable, services)}`.trim();
}

async function describe(ca, keys) {
  const services = await catalog();
  return Promise.all(
    keys.map(async (key) => {
      const [deviceUuid, mapping] = key.split(/:(.*)/s);
      const { device, variables } = await deviceWithVariables(ca, deviceUuid);
      const variable = variables.find((v) => mappingOf(v) === mapping);
      if (!variable) throw new Error(`${device.name} has no variable ${mapping}.`);
      return { key, deviceUuid, mapping, device, variable, label: labelOf(device, variable, services) };
    }),
  );
}

// --- the query: one per effective zone, following nextAfter until every series is in ---

function groupsByZone(described, settings) {
  const groups = new Map();
  for (const s of described) {
    const zone = settings.zone === "device" ? s.device.timeZone || "UTC" : settings.zone;
    if (!groups.has(zone)) groups.set(zone, []);
    groups.get(zone).push(s);
  }
  return groups;
}

function rangeIn(settings, zone) {
  return settings.period === "custom" ? [settings.from, settings.to] : periodRange(settings.period, zone);
}

async function fetchSeries(ca, described, settings, signal, onProgress) {
  const columns = new Map(described.map((s) => [s.key, { times: [], values: [] }]));
  let points = 0;
  let pages = 0;
  const queries = [];
  for (const [zone, members] of groupsByZone(described, settings)) {
    const [from, to] = rangeIn(settings, zone);
    const body = {
      from, to,
      timezone: settings.zone === "device" ? "UTC" : zone,
      useDeviceLocalTimezone: settings.zone === "device",
      granularity: settings.granularity,
      take: PAGE_POINTS,
    };
    const series = members.map((s) => ({
      deviceUuid: s.deviceUuid,
      mappingConfig: s.mapping,
      ...(settings.granularity === "raw" ? {} : { aggregation: settings.aggregation }),
    }));
    queries.push({ zone, from, to, body });
    let pending = series;
    while (pending.length) {
      let answer;
      try {
        answer = await api("PUT", paths.datapoints(ca), { body: { ...body, series: pending }, signal });
      } catch (error) {
        if (signal.reason !== CANCEL) throw error;
        return { columns, queries, points, cancelled: true }; // what came before the Cancel
      }
      pages += 1;
      const next = [];
      answer.series.forEach((got, i) => {
        const key = `${got.deviceUuid}:${got.mappingConfig}`;
        const column = columns.get(key);
        for (const p of got.data) {
          column.times.push(Date.parse(p.at) / 1000);
          column.values.push(p.value);
        }
        points += got.data.length;
        if (got.nextAfter) next.push({ ...pending[i], after: got.nextAfter });
      });
      pending = next;
      onProgress({ points, pages, done: !pending.length });
    }
  }
  return { columns, queries, points, cancelled: false };
}

/** [times, values of series 1, ...] on one time axis; a series without a point at a time has
 * undefined there (uPlot spans it; the table leaves the cell empty). */
function align(described, columns) {
  const tables = described.map((s) => [columns.get(s.key).times, columns.get(s.key).values]);
  if (tables.length === 1) return [tables[0][0], tables[0][1]];
  return uPlot.join(tables);
}

// --- the table and its CSV: the same header, the same rows ---

function headerOf(aligned, zone, settings, described) {
  const times = aligned[0];
  const day = (s) => (s === undefined ? "" : new Date(s * 1e3).toLocaleDateString(undefined, { timeZone: zone, year: "2-digit", month: "2-digit", day: "2-digit" }));
  const dateTitle = `Date (${day(times[0])} - ${day(times[times.length - 1])})`;
  const below = settings.granularity === "raw" ? "Raw value" : AGGREGATIONS[settings.aggregation];
  return [
    [dateTitle, ...described.map((s) => s.label)],
    ["", ...described.map(() => below)],
  ];
}

function csvCell(value) {
  const text = value === undefined || value === null ? "" : String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function downloadCsv(aligned, header, zone, name) {
  const lines = header.map((row) => row.map(csvCell).join(","));
  const [times, ...columns] = aligned;
  for (let i = 0; i < times.length; i++) {
    const row = [isoInZone(times[i] * 1e3, zone)];
    for (const column of columns) row.push(csvCell(column[i]));
    lines.push(row.join(","));
  }
  const blob = new Blob([lines.join("\r\n") + "\r\n"], { type: "text/csv;charset=utf-8" });
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

function Table({ aligned, header, zone, granularity }) {
  const [first, setFirst] = useState(0);
  useEffect(() => setFirst(0), [aligned]);
  const [times, ...columns] = aligned;
  const last = Math.min(first + TABLE_ROWS, times.length);
  const rows = [];
  for (let i = first; i < last; i++) {
    rows.push(html`<tr><td>${formatDate(times[i] * 1e3, zone, PRECISION_OF[granularity])}</td>
      ${columns.map((c) => html`<td class="num">${formatNumber(c[i])}</td>`)}</tr>`);
  }
  return html`<table class="list history-table">
      <thead>
        <tr>${header[0].map((h) => html`<th>${h}</th>`)}</tr>
        <tr class="aggregation">${header[1].map((h) => html`<th>${h}</th>`)}</tr>
      </thead>
      <tbody>${rows}</tbody>
    </table>
    ${times.length > TABLE_ROWS
      ? html`<nav class="pager" aria-label="table pages">
          <button type="button" class="secondary" disabled=${!first} onClick=${() => setFirst(Math.max(0, first - TABLE_ROWS))}>‹ Previous</button>
          <span class="count">rows ${first + 1}–${last} of ${times.length}</span>
          <button type="button" class="secondary" disabled=${last >= times.length} onClick=${() => setFirst(first + TABLE_ROWS)}>Next ›</button>
        </nav>`
      : null}`;
}

// --- choosing variables ---

function Picker({ ca, settings, preselected }) {
  const [text, setText] = useState("");
  const [device, setDevice] = useState(preselected || "");
  const found = useAnswer(
    (signal) => page(paths.devices(ca), { name: text, take: 10, sortBy: "name", readable: true }, signal),
    [ca, text],
  );
  const variables = useAnswer(
    () => (device ? deviceWithVariables(ca, device) : Promise.resolve(null)),
    [ca, device],
  );
  const services = useAnswer(() => catalog(), []);
  const [chosen, setChosen] = useState("");
  const numeric = (v) => (services.data?.get(v.serviceId)?.dataType ?? "number") === "number";
  const add = (event) => {
    event.preventDefault();
    if (!chosen || settings.series.includes(chosen)) return;
    const query = new URLSearchParams(location.search);
    query.append("series", chosen);
    query.delete("device");
    navigate(`${location.pathname}?${query}`);
    setChosen("");
  };
  return html`<form class="picker" onSubmit=${add}>
    <label>Device <input type="search" placeholder="Search a device" value=${text}
      onInput=${(e) => setText(e.target.value)} /></label>
    <select aria-label="Device" value=${device} onChange=${(e) => setDevice(e.target.value)}>
      <option value="">Choose a device…</option>
      ${variables.data && !found.data?.results.some((d) => d.uuid === device)
        ? html`<option value=${device}>${variables.data.device.name}</option>` : null}
      ${(found.data?.results || []).map((d) => html`<option value=${d.uuid}>${d.name}</option>`)}
    </select>
    <select aria-label="Variable" value=${chosen} onChange=${(e) => setChosen(e.target.value)} disabled=${!variables.data}>
      <option value="">Choose a variable…</option>
      ${(variables.data?.variables || []).filter(numeric).map((v) => {
        const key = `${device}:${mappingOf(v)}`;
        return html`<option value=${key} disabled=${settings.series.includes(key)}>${v.itemType} ${v.itemIndex} · ${titleOf(v)}</option>`;
      })}
    </select>
    <button type="submit" disabled=${!chosen}>Add</button>
    <${ErrorBox} error=${found.error || variables.error} />
  </form>`;
}

// --- the page ---

function Controls({ settings }) {
  const set = (changes) => navigate(withQuery(changes));
  const allZones = useMemo(zones, []);
  return html`<div class="controls">
    <label>Period <select value=${settings.period} onChange=${(e) => set({ period: e.target.value })}>
      ${PERIODS.map(([value, label]) => html`<option value=${value}>${label}</option>`)}
    </select></label>
    ${settings.period === "custom"
      ? html`<label>From <input type="datetime-local" step="1" value=${settings.from}
            onChange=${(e) => set({ from: e.target.value })} /></label>
          <label>To <input type="datetime-local" step="1" value=${settings.to}
            onChange=${(e) => set({ to: e.target.value })} /></label>`
      : null}
    <label>Time zone <select value=${settings.zone} onChange=${(e) => set({ zone: e.target.value })}>
      <option value="device">Device's own</option>
      ${allZones.map((z) => html`<option value=${z}>${z}</option>`)}
    </select></label>
    <label>Granularity <select value=${settings.granularity} onChange=${(e) => set({ granularity: e.target.value })}>
      ${GRANULARITIES.map((g) => html`<option value=${g}>${g}</option>`)}
    </select></label>
    ${settings.granularity === "raw"
      ? null
      : html`<label>Aggregation <select value=${settings.aggregation} title=${EXPLAINED[settings.aggregation] || ""}
            onChange=${(e) => set({ aggregation: e.target.value })}>
          ${Object.entries(AGGREGATIONS).map(([value, label]) => html`<option value=${value} title=${EXPLAINED[value] || ""}>${label}</option>`)}
        </select></label>`}
  </div>`;
}

function problemOf(settings) {
  if (settings.period !== "custom") return null;
  if (!settings.from || !settings.to) return "Choose the start and the end of the period.";
  if (settings.from >= settings.to) return "The end of the period must come after its start.";
  return null;
}

export function History({ ca }) {
  const { query } = useLocation();
  const settings = settingsOf(query);
  const described = useAnswer(() => describe(ca, settings.series), [ca, settings.series.join()]);
  const problem = problemOf(settings);
  const [progress, setProgress] = useState(null);
  const [controller, setController] = useState(null);
  const key = JSON.stringify(settings);
  const result = useAnswer(
    async (signal) => {
      if (!described.data?.length || problem) return null;
      const own = new AbortController();
      signal.addEventListener("abort", () => own.abort());
      setController(own);
      setProgress({ points: 0, pages: 0, done: false });
      try {
        const fetched = await fetchSeries(ca, described.data, settings, own.signal, setProgress);
        const receivedAt = performance.now();
        return { ...fetched, aligned: align(described.data, fetched.columns), receivedAt };
      } finally {
        setController((current) => (current === own ? null : current)); // a newer load's stays
      }
    },
    [key, described.data],
  );
  const firstZone = described.data?.length
    ? (settings.zone === "device" ? described.data[0].device.timeZone || "UTC" : settings.zone)
    : viewerZone();
  const zoom = (fromMs, toMs) =>
    navigate(withQuery({ period: "custom", from: wallClock(fromMs, firstZone), to: wallClock(toMs, firstZone) }));
  const remove = (series) => {
    const q = new URLSearchParams(location.search);
    const rest = q.getAll("series").filter((s) => s !== series);
    q.delete("series");
    rest.forEach((s) => q.append("series", s));
    navigate(`${location.pathname}?${q}`);
  };

  const data = result.data;
  const header = data && data.aligned[0].length ? headerOf(data.aligned, firstZone, settings, described.data) : null;
  return html`
    <h1>Historical data</h1>
    <${Picker} ca=${ca} settings=${settings} preselected=${query.get("device")} />
    <ul class="chips">
      ${(described.data || []).map((s) => html`<li class="chip">${s.label}
        <button type="button" class="link" aria-label=${`Remove ${s.label}`} onClick=${() => remove(s.key)}>×</button></li>`)}
    </ul>
    <${ErrorBox} error=${described.error} />
    <${Controls} settings=${settings} />
    ${problem ? html`<p class="error" role="alert">${problem}</p>` : null}
    ${!settings.series.length ? html`<p class="muted">Choose a device and a variable, then Add.</p>` : null}
    ${controller && progress
      ? html`<p class="progress" role="status">Loading: ${progress.points.toLocaleString()} points, ${progress.pages} answer(s)…
          <button type="button" class="secondary" onClick=${() => controller.abort(CANCEL)}>Cancel</button></p>`
      : null}
    <${ErrorBox} error=${result.error} />
    ${data?.cancelled ? html`<p class="notice" role="status">Cancelled: showing the ${data.points.toLocaleString()} points loaded before.</p>` : null}
    ${data && !data.aligned[0].length ? html`<p class="notice" role="status">No data in this period.</p>` : null}
    ${header
      ? html`
        <div class="actions">
          <span class="muted">${data.points.toLocaleString()} points · times in ${firstZone}${settings.period === "custom" ? html` · <${Link} href=${withQuery({ period: "7d", from: null, to: null })}>reset zoom</${Link}>` : ""}</span>
          <button type="button" onClick=${() => downloadCsv(data.aligned, header, firstZone, `sodata-${settings.granularity}.csv`)}>Download</button>
        </div>
        <${Chart} aligned=${data.aligned} labels=${described.data.map((s) => s.label)} zone=${firstZone}
          onZoom=${zoom} receivedAt=${data.receivedAt} />
        <${Table} aligned=${data.aligned} header=${header} zone=${firstZone} granularity=${settings.granularity} />`
      : result.loading && settings.series.length && !problem ? html`<${Loading} what="Loading the data" />` : null}`;
}
