// @ts-check
// Small DOM and HTTP helpers shared by the UI modules.
//
// Safety rule of the whole client: user text goes into the page through
// `textContent` (what `h()` does with strings) or as the server's sanitised
// `body_html`. Nothing builds HTML by joining strings.

const SVG_NS = "http://www.w3.org/2000/svg";

/** Create an element: h("button", {class: "x", onclick: fn, dataset: {id: 1}}, "text", child). */
export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "style") Object.assign(node.style, value);
    else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key in node && typeof value !== "string") node[key] = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

// Icon paths (static strings of this file, never user data).
const ICONS = {
  smile: ["M8 14s1.5 2 4 2 4-2 4-2", "M9 9h.01", "M15 9h.01", { circle: [12, 12, 10] }],
  reply: ["M9 17 4 12l5-5", "M20 18v-2a4 4 0 0 0-4-4H4"],
  edit: ["M12 20h9", "M16.5 3.5a2.12 2.12 0 0 1 3 3L7 19l-4 1 1-4Z"],
  trash: ["M3 6h18", "M19 6v14a2 2 0 0 1-2 2H7a2 2 0 0 1-2-2V6", "M8 6V4a2 2 0 0 1 2-2h4a2 2 0 0 1 2 2v2"],
  pin: [
    "M12 17v5",
    "M9 10.76V6h6v4.76a2 2 0 0 0 1.11 1.79l1.78.9A2 2 0 0 1 19 15.24V17H5v-1.76a2 2 0 0 1 1.11-1.79l1.78-.9A2 2 0 0 0 9 10.76z",
  ],
  file: ["M14.5 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V7.5z", "M14 2v6h6"],
  download: ["M21 15v4a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2v-4", "m7 10 5 5 5-5", "M12 15V3"],
  x: ["M18 6 6 18", "m6 6 12 12"],
  check: ["M20 6 9 17l-5-5"],
  checks: ["M18 6 7 17l-5-5", "m22 10-7.5 7.5L13 16"],
  clock: ["M12 6v6l4 2", { circle: [12, 12, 10] }],
  alert: ["M12 8v4", "M12 16h.01", { circle: [12, 12, 10] }],
  bell: ["M6 8a6 6 0 1 1 12 0c0 7 3 9 3 9H3s3-2 3-9", "M10.3 21a1.94 1.94 0 0 0 3.4 0"],
  hash: ["M4 9h16", "M4 15h16", "M10 3 8 21", "M16 3l-2 18"],
  flag: ["M4 15s1-1 4-1 5 2 8 2 4-1 4-1V3s-1 1-4 1-5-2-8-2-4 1-4 1z", "M4 22v-7"],
};

export function icon(name, className = "icon") {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", className);
  for (const part of ICONS[name] || []) {
    if (typeof part === "string") {
      const path = document.createElementNS(SVG_NS, "path");
      path.setAttribute("d", part);
      svg.append(path);
    } else if (part.circle) {
      const circle = document.createElementNS(SVG_NS, "circle");
      const [cx, cy, r] = part.circle;
      circle.setAttribute("cx", cx);
      circle.setAttribute("cy", cy);
      circle.setAttribute("r", r);
      svg.append(circle);
    }
  }
  return svg;
}

/** A stable colour per user, so avatars are recognisable. */
export function hueFor(id) {
  const n = Number(id) || 0;
  return (n * 137) % 360;
}

export function avatar(user, className = "avatar") {
  const node = h("span", { class: className, "aria-hidden": "true" });
  fillAvatar(node, user);
  return node;
}

/** The user's picture (`avatar_small_url`, else `avatar_url`) over their initial, which stays the fallback. */
export function fillAvatar(node, user) {
  const name = user?.display_name || user?.username || "?";
  for (const old of node.querySelectorAll(".avatar-img")) old.remove();
  const letter = node.querySelector(".avatar-letter");
  if (letter) letter.textContent = name.trim().charAt(0).toUpperCase() || "?";
  else node.prepend(name.trim().charAt(0).toUpperCase() || "?");
  if (user?.id) {
    node.dataset.avatarFor = String(user.id);
    node.style.setProperty("--hue", String(hueFor(user.id)));
  }
  const url = user?.avatar_small_url || user?.avatar_url;
  if (url) node.prepend(h("img", { class: "avatar-img", src: url, alt: "", loading: "lazy", decoding: "async" }));
}

export function paintAvatars(root = document) {
  for (const node of /** @type {NodeListOf<HTMLElement>} */ (root.querySelectorAll("[data-avatar-for]"))) {
    node.style.setProperty("--hue", String(hueFor(node.dataset.avatarFor)));
  }
}

// --- Time ---------------------------------------------------------------------

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: "long", month: "long", day: "numeric" });
const dayYearFormat = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "long", day: "numeric" });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });

export function formatTime(iso) {
  return iso ? timeFormat.format(new Date(iso)) : "";
}

export function formatFull(iso) {
  return iso ? fullFormat.format(new Date(iso)) : "";
}

export function dayKey(iso) {
  const date = new Date(iso);
  return `${date.getFullYear()}-${date.getMonth()}-${date.getDate()}`;
}

export function formatDay(iso) {
  const date = new Date(iso);
  const today = new Date();
  const yesterday = new Date();
  yesterday.setDate(today.getDate() - 1);
  if (dayKey(date) === dayKey(today)) return "Today";
  if (dayKey(date) === dayKey(yesterday)) return "Yesterday";
  return date.getFullYear() === today.getFullYear() ? dayFormat.format(date) : dayYearFormat.format(date);
}

export function relativeTime(iso) {
  if (!iso) return "";
  const seconds = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
  if (seconds < 60) return "just now";
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  return dayYearFormat.format(new Date(iso));
}

export function formatSize(bytes) {
  if (!Number.isFinite(bytes)) return "";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(bytes < 10240 ? 1 : 0)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

// --- HTTP ---------------------------------------------------------------------

export function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  if (match) return decodeURIComponent(match[1]);
  return /** @type {HTMLInputElement|null} */ (document.querySelector("input[name=csrfmiddlewaretoken]"))?.value || "";
}

export class ApiError extends Error {
  constructor(status, body) {
    super(apiMessage(body) || `Request failed (${status}).`);
    this.status = status;
    this.body = body;
  }
}

function apiMessage(body) {
  if (!body || typeof body !== "object") return "";
  if (typeof body.detail === "string") return body.detail;
  if (typeof body.message === "string") return body.message;
  for (const value of Object.values(body)) {
    if (Array.isArray(value) && typeof value[0] === "string") return value[0];
    if (typeof value === "string") return value;
  }
  return "";
}

/**
 * JSON over the session: same-origin cookies, CSRF header on unsafe methods.
 * @param {string} path under /api/v1/, or absolute
 * @param {{method?: string, body?: any, signal?: AbortSignal}} [options]
 * @returns {Promise<any>}
 */
export async function api(path, { method = "GET", body = undefined, signal = undefined } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET" && method !== "HEAD") headers["X-CSRFToken"] = csrfToken();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path.startsWith("/") ? path : `/api/v1/${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
    signal,
  });
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch (error) {
    data = null;
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/** The text of the server's sanitised HTML (for quotes and previews); parsing runs no scripts. */
export function plainText(html) {
  return new DOMParser().parseFromString(html || "", "text/html").body.textContent.replace(/\s+/g, " ").trim();
}

/** A readable one-line preview of a raw markdown body. */
export function stripMarkdown(text) {
  return (text || "")
    .replace(/```[a-z]*\n?/gi, "")
    .replace(/(\*\*|__|~~|`)/g, "")
    .replace(/\s+/g, " ")
    .trim();
}

/** Run `fn` at most once per `wait` ms, trailing call included. */
export function debounce(fn, wait) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), wait);
  };
}

export function prefersReducedMotion() {
  return window.matchMedia?.("(prefers-reduced-motion: reduce)").matches;
}
