// The console's entry: sign-in, the page frame and the routes. Each page has its own address:
//   /console/                              select a corporate account
//   /console/ca/{ca}?view=&customer=&site=&name=&skip=   the account home
//   /console/ca/{ca}/devices/{device}      a device, its variables and last values
//   /console/ca/{ca}/history?series=...    historical data: chart, table, download
import { CALLBACK, completeSignIn, identity, isSignedIn, signIn, signOut } from "./auth.js";
import { get, paths } from "./api.js";
import { html, render, useLocation, Link, ErrorBox, navigate, useAnswer } from "./ui.js";
import { Accounts } from "./accounts.js";
import { Account } from "./account.js";
import { Device } from "./device.js";
import { History } from "./history.js";

const ROUTES = [
  [/^\/console\/?$/, Accounts],
  [/^\/console\/ca\/([^/]+)\/?$/, Account],
  [/^\/console\/ca\/([^/]+)\/devices\/([^/]+)\/?$/, Device],
  [/^\/console\/ca\/([^/]+)\/history\/?$/, History],
];

function AccountName({ ca }) {
  const { data } = useAnswer((signal) => get(paths.account(ca), undefined, signal), [ca]);
  return data ? html`<${Link} href=${`/console/ca/${ca}`} class="crumb">${data.name}</${Link}>` : null;
}

function Frame({ ca, children }) {
  const me = identity();
  return html`
    <header class="top">
      <${Link} href="/console/" class="brand">SoData</${Link}>
      ${ca ? html`<${AccountName} ca=${ca} />` : null}
      <span class="spacer" />
      <span class="who" title="Signed in">${me.email || me.preferred_username || ""}</span>
      <a href="/docs/swagger-ui/index.html" class="docs">API</a>
      <button type="button" class="secondary" onClick=${() => signOut()}>Sign out</button>
    </header>
    <main>${children}</main>`;
}

function App() {
  const { path } = useLocation();
  for (const [pattern, Page] of ROUTES) {
    const match = path.match(pattern);
    if (match) {
      const [ca, device] = match.slice(1).map(decodeURIComponent);
      return html`<${Frame} ca=${ca}><${Page} ca=${ca} device=${device} /></${Frame}>`;
    }
  }
  return html`<${Frame}><h1>Page not found</h1>
    <p>There is no page at ${path}. <${Link} href="/console/">Go to your corporate accounts</${Link}>.</p></${Frame}>`;
}

async function start() {
  const root = document.getElementById("app");
  root.textContent = ""; // the "Loading" placeholder
  try {
    if (location.pathname === CALLBACK) {
      navigate(await completeSignIn(), { replace: true });
    } else if (!isSignedIn()) {
      await signIn();
      return;
    }
  } catch (error) {
    render(html`<main class="signin-failed"><h1>Sign-in failed</h1><${ErrorBox} error=${error} />
      <button type="button" onClick=${() => signIn("/console/")}>Sign in again</button></main>`, root);
    return;
  }
  render(html`<${App} />`, root);
}

start();
