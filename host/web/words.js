// Times and counts as a person reads them. A clinic's times are always its own zone's, whatever the
// browser's zone: an instant is shown in the clinic's zone with the zone's abbreviation, a clinic-local
// wall-clock time as it is written.

const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

// "2026-12-01T12:30" (clinic-local) -> { date: "Tuesday 1 December 2026", day: "2026-12-01", time: "12:30 pm" }.
export function wallClock(localStart) {
  const [day, clock] = localStart.split("T");
  const [y, m, d] = day.split("-").map(Number);
  const [h, min] = clock.split(":").map(Number);
  const weekday = DAYS[new Date(Date.UTC(y, m - 1, d)).getUTCDay()];
  const hour12 = ((h + 11) % 12) + 1;
  const time = `${hour12}:${String(min).padStart(2, "0")} ${h < 12 ? "am" : "pm"}`;
  return { date: `${weekday} ${d} ${MONTHS[m - 1]} ${y}`, day, time };
}

// An instant (RFC 3339, any offset) in the clinic's zone: "Thu 3 Dec 2026, 12:53 pm AEDT".
export function whenIn(instant, zone) {
  const date = new Date(instant);
  if (Number.isNaN(date.getTime())) return instant;
  const parts = new Intl.DateTimeFormat("en-AU", {
    timeZone: zone, weekday: "short", day: "numeric", month: "short", year: "numeric",
    hour: "numeric", minute: "2-digit", hour12: true, timeZoneName: "short",
  }).formatToParts(date);
  const part = (type) => (parts.find((p) => p.type === type) || { value: "" }).value;
  return `${part("weekday")} ${part("day")} ${part("month")} ${part("year")}, ${part("hour")}:${part("minute")} ${part("dayPeriod").toLowerCase()} ${part("timeZoneName")}`;
}

// plural(0, "change") -> "no changes", plural(1, "change") -> "1 change", plural(3, "change") -> "3 changes".
export function plural(count, noun, nouns) {
  const many = nouns || `${noun}s`;
  if (count === 0) return `no ${many}`;
  return `${count} ${count === 1 ? noun : many}`;
}
