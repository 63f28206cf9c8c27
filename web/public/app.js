// The front-end page (/app): lists, adds and deletes users and sums ints,
// all through the REST API. User data only ever goes into the page as
// textContent, never as HTML.
"use strict";

const errorBox = document.getElementById("error");

function showError(message) {
  errorBox.textContent = message;
  errorBox.hidden = false;
}

function clearError() {
  errorBox.textContent = "";
  errorBox.hidden = true;
}

// Calls the API; resolves to the response text, or throws an Error
// carrying the API's {"error": ...} message.
async function call(method, url, body) {
  const options = { method, headers: {} };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = body;
  }
  const response = await fetch(url, options);
  const text = await response.text();
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const parsed = JSON.parse(text);
      if (parsed && typeof parsed.error === "string") {
        message = parsed.error;
      }
    } catch (_) {
      // Not JSON: keep the status line.
    }
    throw new Error(message);
  }
  return text;
}

async function loadUsers() {
  const list = document.getElementById("user-list");
  const users = [];
  for (let page = 1; ; page++) {
    const data = JSON.parse(await call("GET", `/api/users?page=${page}&per_page=100`));
    users.push(...data.users);
    if (users.length >= data.total || data.users.length === 0) {
      break;
    }
  }
  list.replaceChildren();
  for (const user of users) {
    const item = document.createElement("li");
    item.dataset.id = String(user.id);
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = user.name;
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "delete";
    remove.textContent = "Delete";
    remove.setAttribute("aria-label", `Delete ${user.name}`);
    remove.addEventListener("click", () => deleteUser(user.id));
    item.append(name, remove);
    list.append(item);
  }
}

async function deleteUser(id) {
  clearError();
  try {
    await call("DELETE", `/api/users/${encodeURIComponent(id)}`);
    await loadUsers();
  } catch (e) {
    showError(e.message);
  }
}

document.getElementById("add-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  clearError();
  const input = document.getElementById("new-name");
  try {
    await call("POST", "/api/users", JSON.stringify({ name: input.value }));
    input.value = "";
    await loadUsers();
  } catch (e) {
    showError(e.message);
  }
});

document.getElementById("sum-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  clearError();
  const result = document.getElementById("sum-result");
  result.textContent = "";
  const tokens = document.getElementById("sum-input").value.split(/[\s,]+/).filter((t) => t !== "");
  const bad = tokens.find((t) => !/^[+-]?\d+$/.test(t));
  if (bad !== undefined) {
    showError(`not an integer: ${bad}`);
    return;
  }
  // Built as text, not with JSON.stringify of Numbers: ints beyond 2^53
  // must reach the server exactly.
  const body = `[${tokens.map((t) => BigInt(t).toString()).join(",")}]`;
  try {
    const text = await call("POST", "/api/sum", body);
    const match = /"sum"\s*:\s*(-?\d+)/.exec(text);
    result.textContent = match ? match[1] : text;
  } catch (e) {
    showError(e.message);
  }
});

loadUsers().catch((e) => showError(e.message));
