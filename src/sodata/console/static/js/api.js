// The console's only way to the data: the public /api/v1, with the signed-in user's token.
import { accessToken } from "./auth.js";

export const PAGE = 25; // rows per page of every list (server-side take/skip)

/** An answer of the API outside 2xx, with the message of its error shape
 * {"statusCode", "message", "error"}. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function url(path, params) {
  const u = new URL(path, location.origin);
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== "") u.searchParams.set(k, v);
  }
  return u;
}

export async function api(method, path, { params, body, signal } = {}) {
  const send = async (token) =>
    fetch(url(path, params), {
      method,
      signal,
      headers: {
        Authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  let response = await send(await accessToken());
  if (response.status === 401) response = await send(await accessToken({ force: true }));
  const text = await response.text();
  let answer = null;
  try {
    answer = text ? JSON.parse(text) : null;
  } catch {
    answer = null;
  }
  if (!response.ok) {
    const message = Array.isArray(answer?.message) ? answer.message.join("; ") : answer?.message;
    throw new ApiError(response.status, message || `${response.status} ${response.statusText}`);
  }
  return answer;
}

export const get = (path, params, signal) => api("GET", path, { params, signal });

/** One page of a list: {total, results, take}. */
export const page = (path, { skip = 0, ...params } = {}, signal) =>
  get(path, { take: PAGE, skip, ...params }, signal);

const ca = (uuid) => `/api/v1/ca/${encodeURIComponent(uuid)}`;
export const paths = {
  accounts: "/api/v1/ca",
  account: ca,
  groups: (a) => `${ca(a)}/data-access-groups`,
  customers: (a) => `${ca(a)}/customers`,
  sites: (a) => `${ca(a)}/sites`,
  site: (a, s) => `${ca(a)}/sites/${s}`,
  devices: (a) => `${ca(a)}/devices`,
  device: (a, d) => `${ca(a)}/devices/${d}`,
  gateway: (a, d) => `${ca(a)}/devices/${d}/gateway`,
  items: (a, d) => `${ca(a)}/devices/${d}/items`,
  variables: (a, d) => `${ca(a)}/devices/${d}/variables`,
  lastValues: (a, d) => `${ca(a)}/devices/${d}/last-values`,
  datapoints: (a) => `${ca(a)}/datapoints`,
  services: "/api/v1/services",
};

let services = null;

/** The catalog's services by serviceId: unit symbol, data type, titles. Read once. */
export function catalog() {
  services ??= (async () => {
    const byId = new Map();
    for (let skip = 0; ; skip += 1000) {
      const answer = await get(paths.services, { take: 1000, skip });
      for (const s of answer.results) byId.set(s.serviceId, s);
      if (skip + answer.results.length >= answer.total || !answer.results.length) return byId;
    }
  })().catch((error) => {
    services = null;
    throw error;
  });
  return services;
}
