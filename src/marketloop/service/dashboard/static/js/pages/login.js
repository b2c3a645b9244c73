// The login page: trade an API key for a session cookie (POST /v1/session).

import { api, ApiError } from "../api.js";

const form = document.getElementById("login-form");
const input = document.getElementById("api-key");
const error = document.getElementById("login-error");

function showError(text) {
  error.textContent = text;
  error.hidden = false;
  input.setAttribute("aria-invalid", "true");
  input.focus();
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const key = input.value.trim();
  if (!key) { showError("Paste an API key first."); return; }
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    const me = await api("/v1/session", { method: "POST", body: { key }, redirectOn401: false });
    if (!me.scopes.includes("read")) {
      await api("/v1/session", { method: "DELETE", redirectOn401: false });
      showError(`This is an ${me.role} key: it can send events but not view the dashboard. Use an admin, marketer or analyst key.`);
      return;
    }
    input.value = "";
    location.assign(form.dataset.next || "/dashboard/");
  } catch (err) {
    showError(err instanceof ApiError && err.status === 401
      ? "That key is not valid (unknown, mistyped or revoked)."
      : `Could not log in: ${err.message}`);
  } finally {
    button.disabled = false;
  }
});
input.focus();
