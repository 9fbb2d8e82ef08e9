// Small helpers shared by the console's components: DOM building (text only, never HTML strings),
// times, JSON formatting and a line diff.

/** An element: h("a", { href: "#/x", class: "y" }, "text", child). Attributes set via setAttribute,
 * event listeners via on<Event> keys; null and false children and attributes are skipped. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === "value") {
      element.value = value;
    } else if (name === "checked") {
      element.checked = Boolean(value);
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

/** A definition list from [term, description] pairs (descriptions may be nodes). */
export function facts(pairs, attributes = {}) {
  return h(
    "dl",
    { class: "facts", ...attributes },
    pairs.filter(Boolean).map(([term, description]) => [
      h("dt", {}, term),
      h("dd", {}, description === null || description === undefined || description === "" ? "—" : description),
    ])
  );
}

const UNITS = [
  ["d", 86400],
  ["h", 3600],
  ["min", 60],
  ["s", 1],
];

/** "3 d 4 h", "12 min 5 s": the two largest units of a duration in seconds. */
export function duration(seconds) {
  let rest = Math.max(0, Math.floor(Math.abs(seconds)));
  const parts = [];
  for (const [unit, size] of UNITS) {
    if (rest >= size || (unit === "s" && parts.length === 0)) {
      parts.push(`${Math.floor(rest / size)} ${unit}`);
      rest %= size;
    }
    if (parts.length === 2) break;
  }
  return parts.join(" ");
}

export function age(since, now = Date.now()) {
  if (!since) return "—";
  return duration((now - Date.parse(since)) / 1000);
}

/** "in 2 h 5 min", "overdue by 3 min", or "no deadline". */
export function countdown(deadline, now = Date.now()) {
  if (!deadline) return "no deadline";
  const left = (Date.parse(deadline) - now) / 1000;
  return left >= 0 ? `in ${duration(left)}` : `overdue by ${duration(left)}`;
}

export function when(timestamp) {
  if (!timestamp) return "—";
  const date = new Date(timestamp);
  return Number.isNaN(date.getTime()) ? String(timestamp) : date.toISOString().replace("T", " ").replace(/\.\d+Z$|Z$/, " UTC");
}

export function timeElement(timestamp) {
  return timestamp ? h("time", { datetime: timestamp }, when(timestamp)) : "—";
}

export function pretty(value) {
  return value === undefined ? "" : JSON.stringify(value, null, 2);
}

export function jsonBlock(value, label) {
  return h("pre", { class: "json", tabindex: "0", "aria-label": label }, value === null || value === undefined ? "null" : pretty(value));
}

/** A line diff (longest common subsequence) of two texts: [{ op: " " | "-" | "+", line }]. */
export function diffLines(before, after) {
  const a = before.split("\n");
  const b = after.split("\n");
  const table = Array.from({ length: a.length + 1 }, () => new Array(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i -= 1) {
    for (let j = b.length - 1; j >= 0; j -= 1) {
      table[i][j] = a[i] === b[j] ? table[i + 1][j + 1] + 1 : Math.max(table[i + 1][j], table[i][j + 1]);
    }
  }
  const result = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      result.push({ op: " ", line: a[i] });
      i += 1;
      j += 1;
    } else if (table[i + 1][j] >= table[i][j + 1]) {
      result.push({ op: "-", line: a[i] });
      i += 1;
    } else {
      result.push({ op: "+", line: b[j] });
      j += 1;
    }
  }
  while (i < a.length) result.push({ op: "-", line: a[i++] });
  while (j < b.length) result.push({ op: "+", line: b[j++] });
  return result;
}

export function diffBlock(before, after, label) {
  const lines = diffLines(before, after).map(({ op, line }) =>
    h(
      "span",
      { class: op === "+" ? "diff-add" : op === "-" ? "diff-del" : "diff-same" },
      op === "+" ? h("span", { class: "visually-hidden" }, "added: ") : null,
      op === "-" ? h("span", { class: "visually-hidden" }, "removed: ") : null,
      `${op} ${line}\n`
    )
  );
  return h("pre", { class: "json diff", tabindex: "0", "aria-label": label }, lines);
}

export function tierBadge(tier) {
  return tier ? h("span", { class: `tier tier-${tier}` }, tier) : "—";
}

export function statusBadge(status) {
  return status ? h("span", { class: `status status-${status}` }, status.replaceAll("_", " ")) : "—";
}

/** The message of a GraphQL error, and its extensions. */
export function firstError(errors) {
  const error = (errors && errors[0]) || {};
  return { message: error.message || "The request failed.", extensions: error.extensions || {} };
}
