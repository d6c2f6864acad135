// What every page uses: rendering (Preact + htm), links and navigation, loading an answer,
// errors, paged lists, and the formats of dates, units and variables.
import { html, render, useEffect, useState, useRef, useMemo } from "../vendor/htm-preact-3.1.1.js";
import { PAGE } from "./api.js";

export { html, render, useEffect, useState, useRef, useMemo };

// --- navigation: every page has an address of its own; links change it without a reload ---

export function navigate(href, { replace = false } = {}) {
  history[replace ? "replaceState" : "pushState"](null, "", href);
  dispatchEvent(new Event("sodata:navigate"));
}

export function useLocation() {
  const [, setTick] = useState(0);
  useEffect(() => {
    const update = () => setTick((t) => t + 1);
    addEventListener("popstate", update);
    addEventListener("sodata:navigate", update);
    return () => {
      removeEventListener("popstate", update);
      removeEventListener("sodata:navigate", update);
    };
  }, []);
  return { path: location.pathname, query: new URLSearchParams(location.search) };
}

/** The current address with some query parameters changed ("" or null removes one). */
export function withQuery(changes) {
  const query = new URLSearchParams(location.search);
  for (const [k, v] of Object.entries(changes)) {
    if (v === null || v === undefined || v === "") query.delete(k);
    else query.set(k, v);
  }
  const text = query.toString();
  return location.pathname + (text ? `?${text}` : "");
}

export function Link({ href, children, ...props }) {
  const onClick = (event) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(href);
  };
  return html`<a href=${href} onClick=${onClick} ...${props}>${children}</a>`;
}

// --- answers of the API ---

/** Runs `load(signal)` whenever `deps` change: {data, error, loading, reload}. A newer load
 * aborts the older one, so a slow answer never overwrites a newer one, and drops its data, so
 * an answer is never shown under another query's headings. */
export function useAnswer(load, deps) {
  const [state, setState] = useState({ data: undefined, error: null, loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const controller = new AbortController();
    setState({ data: undefined, error: null, loading: true });
    load(controller.signal).then(
      (data) => controller.signal.aborted || setState({ data, error: null, loading: false }),
      (error) =>
        controller.signal.aborted ||
        error.name === "AbortError" ||
        setState({ data: undefined, error, loading: false }),
    );
    return () => controller.abort();
  }, [...deps, tick]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}

export function ErrorBox({ error }) {
  if (!error) return null;
  return html`<p class="error" role="alert">${error.message || String(error)}</p>`;
}

export function Loading({ what = "Loading" }) {
  return html`<p class="muted" aria-busy="true">${what}…</p>`;
}

/** A search box whose text goes to the address (query parameter `param`) after a pause. */
export function SearchBox({ param = "name", placeholder = "Search", resets = ["skip"] }) {
  const { query } = useLocation();
  const [text, setText] = useState(query.get(param) || "");
  const timer = useRef();
  useEffect(() => setText(query.get(param) || ""), [query.get(param)]);
  const onInput = (event) => {
    setText(event.target.value);
    clearTimeout(timer.current);
    const value = event.target.value.trim();
    timer.current = setTimeout(
      () => navigate(withQuery({ [param]: value, ...Object.fromEntries(resets.map((r) => [r, null])) }), { replace: true }),
      250,
    );
  };
  return html`<input class="search" type="search" placeholder=${placeholder} aria-label=${placeholder}
    value=${text} onInput=${onInput} />`;
}

/** "26–50 of 74" and the previous and next pages, through the address's `skip`. */
export function Pager({ total, skip, take = PAGE, param = "skip" }) {
  if (!total) return null;
  const last = Math.min(skip + take, total);
  const to = (s) => withQuery({ [param]: s > 0 ? s : null });
  return html`<nav class="pager" aria-label="pages">
    ${skip > 0 ? html`<${Link} href=${to(Math.max(0, skip - take))} rel="prev">‹ Previous</${Link}>` : html`<span />`}
    <span class="count">${skip + 1}–${last} of ${total}</span>
    ${last < total ? html`<${Link} href=${to(skip + take)} rel="next">Next ›</${Link}>` : html`<span />`}
  </nav>`;
}

// --- formats ---

const PRECISION = {
  second: { hour: "2-digit", minute: "2-digit", second: "2-digit" },
  minute: { hour: "2-digit", minute: "2-digit" },
  day: {},
};

/** A date in the viewer's locale, in `zone` (an IANA name; undefined: the viewer's), to the
 * second, the minute or the day. */
export function formatDate(value, zone, precision = "second") {
  if (!value) return "";
  return new Date(value).toLocaleString(undefined, {
    timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit", ...PRECISION[precision],
  });
}

export function formatNumber(value) {
  if (value === null || value === undefined || value === "") return "";
  const n = Number(value);
  return Number.isFinite(n) ? n.toLocaleString(undefined, { maximumFractionDigits: 6 }) : String(value);
}

/** The title of a variable or last value in English, else its service name. */
export function titleOf(v) {
  return v.title || v.serviceTranslations?.en?.title || v.serviceName || v.serviceId;
}

export function unitOf(v, services) {
  const service = services?.get(v.serviceId);
  return service?.unitSymbol ?? v.unit ?? "";
}

/** The flag of a two-letter country code, from its regional indicator symbols. */
export function flag(code) {
  if (!/^[A-Za-z]{2}$/.test(code || "")) return "";
  return String.fromCodePoint(...[...code.toUpperCase()].map((c) => 0x1f1a5 + c.charCodeAt(0)));
}
