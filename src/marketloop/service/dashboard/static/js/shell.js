// What every dashboard page shares: the log-out button, and a safe start for the page's code.

import { api } from "./api.js";
import { errorBox, render } from "./ui.js";

const logout = document.getElementById("logout");
if (logout) {
  logout.addEventListener("click", async () => {
    logout.disabled = true;
    try { await api("/v1/session", { method: "DELETE", redirectOn401: false }); } catch (e) { /* gone already */ }
    location.assign("/");
  });
}

/** Run the page's `main()`, showing any failure in place of the page. */
export async function start(main) {
  try {
    await main();
  } catch (err) {
    render(errorBox(err, "This page could not load"));
  }
}
