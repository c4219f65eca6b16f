// @ts-check
// Plain text from a markdown body, for one-line previews (the room list, toasts, desktop alerts).
// The room list's summaries carry only the markdown source (`body`), not `body_html`; the server
// renders the first preview the same way (chat/views.py room_preview), from the rendered HTML.

/**
 * A readable one-line preview of a markdown body: emphasis, code, links, headings, quotes, list
 * markers and table pipes go; the words stay.
 * @param {string|null|undefined} text
 * @returns {string}
 */
export function previewText(text) {
  return (text || "")
    .replace(/```[^\n]*\n?/g, " ") // code fences (the code itself stays)
    .replace(/^\s*\|?[\s:|-]*-[\s:|-]*\|?\s*$/gm, " ") // a table's |---|---| line
    .replace(/\|/g, " ") // table cells
    .replace(/!\[([^\]]*)\]\([^)]*\)/g, "$1") // images: their alt text
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1") // links: their text
    .replace(/^\s{0,3}#{1,6}\s+/gm, "") // headings
    .replace(/^\s{0,3}>\s?/gm, "") // quotes
    .replace(/^\s*(?:[-*+]|\d+[.)])\s+/gm, "") // list markers
    .replace(/(\*\*|__|~~|`)/g, "")
    .replace(/(^|[^\w*])\*(?=\S)([^*\n]*?\S)\*(?!\w)/g, "$1$2") // *emphasis*
    .replace(/(^|[^\w_])_(?=\S)([^_\n]*?\S)_(?!\w)/g, "$1$2") // _emphasis_
    .replace(/\s+/g, " ")
    .trim();
}
