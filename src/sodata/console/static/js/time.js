// Wall-clock times in IANA zones. The API reads `from` and `to` as wall-clock times of the
// effective zone (a trailing Z or offset is ignored), so the console computes them there.

const formats = new Map();

function parts(ms, zone) {
  let f = formats.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: zone, hourCycle: "h23",
      year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
      timeZoneName: "longOffset",
    });
    formats.set(zone, f);
  }
  const p = Object.fromEntries(f.formatToParts(ms).map(({ type, value }) => [type, value]));
  const offset = p.timeZoneName === "GMT" ? "+00:00" : p.timeZoneName.slice(3);
  return { ...p, offset };
}

/** "2026-03-29T02:30:00": the wall-clock time of the instant `ms` in `zone`. */
export function wallClock(ms, zone) {
  const p = parts(ms, zone);
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}:${p.second}`;
}

/** "2026-03-29T03:30:00+02:00": the instant in `zone`, with its offset (ISO 8601). */
export function isoInZone(ms, zone) {
  return wallClock(ms, zone) + parts(ms, zone).offset;
}

/** A wall-clock text moved by whole days or months, as a calendar does (no zone involved). */
export function shiftWall(wall, { days = 0, months = 0 }) {
  const [date, time = "00:00:00"] = wall.split("T");
  const [y, m, d] = date.split("-").map(Number);
  const moved = new Date(Date.UTC(y, m - 1 + months, 1));
  const lastDay = new Date(Date.UTC(moved.getUTCFullYear(), moved.getUTCMonth() + 1, 0)).getUTCDate();
  moved.setUTCDate(Math.min(d, lastDay) + days);
  return `${moved.toISOString().slice(0, 10)}T${time}`;
}

export const midnight = (wall) => `${wall.slice(0, 10)}T00:00:00`;

export const PERIODS = [
  ["today", "Today"],
  ["24h", "Last 24 hours"],
  ["7d", "Last 7 days"],
  ["30d", "Last 30 days"],
  ["3m", "Last 3 months"],
  ["12m", "Last 12 months"],
  ["custom", "Custom"],
];

/** [from, to] as wall-clock times in `zone` for a period preset at the instant `now`.
 * Day presets start at a local midnight: the 7 days are today and the 6 days before. */
export function periodRange(period, zone, now = Date.now()) {
  const to = wallClock(now, zone);
  const today = midnight(to);
  switch (period) {
    case "today": return [today, to];
    case "24h": return [wallClock(now - 86_400_000, zone), to];
    case "7d": return [shiftWall(today, { days: -6 }), to];
    case "30d": return [shiftWall(today, { days: -29 }), to];
    case "3m": return [shiftWall(today, { months: -3 }), to];
    case "12m": return [shiftWall(today, { months: -12 }), to];
    default: return null;
  }
}

export function zones() {
  const all = Intl.supportedValuesOf ? Intl.supportedValuesOf("timeZone") : [];
  return all.includes("UTC") ? all : ["UTC", ...all];
}

export const viewerZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone;
