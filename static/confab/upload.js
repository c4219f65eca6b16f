// @ts-check
// File uploads with progress: XMLHttpRequest, because fetch() reports no upload progress.

import { csrfToken } from "./dom.js";

export class UploadError extends Error {
  constructor(message, status = 0) {
    super(message);
    this.status = status;
  }
}

/**
 * Upload one file to POST /api/v1/uploads/ (multipart field `file`).
 * Returns {promise, abort}; `onProgress(fraction)` follows the bytes sent.
 */
/**
 * @param {File} file
 * @param {{onProgress?: (fraction: number) => void, url?: string}} [options]
 * @returns {{promise: Promise<any>, abort: () => void}}
 */
export function uploadFile(file, { onProgress = (fraction) => {}, url = "/api/v1/uploads/" } = {}) {
  const xhr = new XMLHttpRequest();
  const promise = new Promise((resolve, reject) => {
    xhr.open("POST", url);
    xhr.withCredentials = true;
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300 && xhr.response) {
        onProgress(1);
        resolve(xhr.response);
        return;
      }
      const body = xhr.response || {};
      const message =
        xhr.status === 413
          ? "This file is too large."
          : body.detail || body.message || (Array.isArray(body.file) ? body.file[0] : "") || `Upload failed (${xhr.status}).`;
      reject(new UploadError(message, xhr.status));
    });
    xhr.addEventListener("error", () => reject(new UploadError("The upload failed: check your connection.")));
    xhr.addEventListener("abort", () => reject(new UploadError("Cancelled.", -1)));
    const form = new FormData();
    form.append("file", file, file.name || "pasted-image.png");
    xhr.send(form);
  });
  return { promise, abort: () => xhr.abort() };
}
