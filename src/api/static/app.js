/* global IntersectionObserver */
// Dashboard wiring: asks for an API key when the service wants one, polls
// camera status, feeds live events to the cards, and runs the add/remove
// camera controls.

import { addCamera, AuthRequired, forgetKey, getCameraStatuses, getHealth, getMetricsText, hasKey, login, removeCamera } from './api.js';
import { CameraCard } from './card.js';
import { EventFeed } from './events.js';

const POLL_MS = 2000;
const HEALTH_EVERY = 5; // polls

const grid = document.getElementById('cameras');
const emptyNote = document.getElementById('no-cameras');
const template = document.getElementById('camera-card');
const healthLine = document.getElementById('service-health');
const form = document.getElementById('add-camera-form');
const formMessage = document.getElementById('form-message');
const loginSection = document.getElementById('login');
const addSection = document.querySelector('.add-camera');
const loginForm = document.getElementById('login-form');
const loginMessage = document.getElementById('login-message');
const logoutButton = document.getElementById('logout');
const metricsLink = document.getElementById('metrics-link');

/** @type {Map<string, CameraCard>} */
const cards = new Map();
/** id → when it was removed here; a poll that started earlier must not bring it back. */
const removedAt = new Map();
let feedConnected = false;
let paintScheduled = false;
let lastHealth = null;
let polls = 0;
let pollTimer = null;

const visibility = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    const card = cards.get(entry.target.dataset.cameraId);
    if (card) card.preview.setVisible(entry.isIntersecting);
  }
});

const feed = new EventFeed(
  (event) => {
    const card = cards.get(event.camera_id ?? event.camera);
    if (!card) return;
    card.onEvent(event);
    if (!paintScheduled) {
      paintScheduled = true;
      requestAnimationFrame(paint);
    }
  },
  (connected) => {
    feedConnected = connected;
    showHealth();
  },
  (err) => askForKey(err),
);

/** Stops everything and shows the key form; `err` says why (a refused key). */
function askForKey(err) {
  feed.stop();
  clearTimeout(pollTimer);
  pollTimer = null;
  if (hasKey()) forgetKey();
  loginMessage.textContent = err && !/required/.test(err.message) ? err.message : '';
  loginMessage.className = 'message error';
  loginSection.hidden = false;
  addSection.hidden = true;
  logoutButton.hidden = true;
  healthLine.textContent = 'API key required';
  healthLine.className = 'health warn';
  loginForm.elements.key.focus();
}

function start() {
  loginSection.hidden = true;
  addSection.hidden = false;
  logoutButton.hidden = !hasKey();
  polls = 0;
  feed.start();
  poll();
}

loginForm.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const key = String(new FormData(loginForm).get('key') ?? '').trim();
  const button = loginForm.querySelector('button[type="submit"]');
  button.disabled = true;
  try {
    await login(key);
    loginForm.reset();
    loginMessage.textContent = '';
    start();
  } catch (err) {
    loginMessage.textContent = `Key not accepted: ${err.message}`;
    loginMessage.className = 'message error';
  } finally {
    button.disabled = false;
  }
});

logoutButton.addEventListener('click', () => askForKey());

// A plain link could not send the key: fetch the text and show it.
metricsLink.addEventListener('click', async (ev) => {
  if (!hasKey()) return;
  ev.preventDefault();
  try {
    const text = await getMetricsText();
    window.open(URL.createObjectURL(new Blob([text], { type: 'text/plain' })), '_blank');
  } catch (err) {
    if (err instanceof AuthRequired) askForKey(err);
  }
});

function showMessage(text, kind) {
  formMessage.textContent = text;
  formMessage.className = `message ${kind}`;
}

function showHealth(error) {
  if (error) {
    healthLine.textContent = `service unreachable: ${error.message}`;
    healthLine.className = 'health bad';
    return;
  }
  if (!lastHealth) return;
  const h = lastHealth;
  const live = feedConnected ? 'live' : 'live feed reconnecting…';
  const problems = h.problems?.length ? ` · ${h.problems.join('; ')}` : '';
  healthLine.textContent = `${h.status} · ${h.model} (${h.task}, ${h.provider}) · ${cards.size} camera(s) · ${live}${problems}`;
  healthLine.className = `health ${h.status === 'ok' && feedConnected ? 'good' : 'warn'}`;
}

async function onRemove(id) {
  const card = cards.get(id);
  if (card) card.removeButton.disabled = true;
  try {
    const existed = await removeCamera(id);
    removedAt.set(id, performance.now());
    dropCard(id);
    showMessage(existed ? `Removed camera ${id}.` : `Camera ${id} was already gone.`, 'ok');
  } catch (err) {
    if (card) card.removeButton.disabled = false;
    if (err instanceof AuthRequired) return askForKey(err);
    showMessage(`Could not remove ${id}: ${err.message}`, 'error');
  }
}

function dropCard(id) {
  const card = cards.get(id);
  if (!card) return;
  visibility.unobserve(card.root);
  card.destroy();
  cards.delete(id);
  emptyNote.hidden = cards.size > 0;
}

/**
 * @param {Array<object>} statuses CameraStatus list
 * @param {boolean} sample whether this poll adds a point to the trends
 * @param {number} askedAt when the list was requested
 */
function reconcile(statuses, sample, askedAt) {
  const seen = new Set();
  for (const s of statuses) {
    const removed = removedAt.get(s.id);
    if (removed !== undefined) {
      if (removed > askedAt) continue;
      removedAt.delete(s.id); // listed again after removal: added anew
    }
    seen.add(s.id);
    let card = cards.get(s.id);
    if (!card) {
      card = new CameraCard(template, s.id, onRemove);
      cards.set(s.id, card);
      grid.append(card.root);
      visibility.observe(card.root);
    }
    card.updateStatus(s, sample);
  }
  for (const id of [...cards.keys()]) if (!seen.has(id)) dropCard(id);
  emptyNote.hidden = cards.size > 0;
}

async function poll() {
  pollTimer = null;
  try {
    if (polls % HEALTH_EVERY === 0) lastHealth = await getHealth();
    const askedAt = performance.now();
    reconcile(await getCameraStatuses(), true, askedAt);
    showHealth();
  } catch (err) {
    if (err instanceof AuthRequired) return askForKey(err);
    showHealth(err);
  }
  polls += 1;
  if (loginSection.hidden) pollTimer = setTimeout(poll, POLL_MS);
}

// Events can come at camera rate; paint at most once per frame, and only
// when something changed.
function paint() {
  paintScheduled = false;
  for (const card of cards.values()) card.render();
}

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const data = new FormData(form);
  const input = { id: String(data.get('id')).trim(), url: String(data.get('url')).trim() };
  const fps = String(data.get('fps') ?? '').trim();
  if (fps !== '') input.fps = Number(fps);
  const button = form.querySelector('button[type="submit"]');
  button.disabled = true;
  showMessage(`Adding ${input.id}…`, 'pending');
  try {
    const status = await addCamera(input);
    showMessage(`Added camera ${status.id ?? input.id}.`, 'ok');
    form.reset();
    await refreshNow();
  } catch (err) {
    if (err instanceof AuthRequired) askForKey(err);
    else showMessage(`Could not add ${input.id}: ${err.message}`, 'error');
  } finally {
    button.disabled = false;
  }
});

async function refreshNow() {
  try {
    const askedAt = performance.now();
    reconcile(await getCameraStatuses(), false, askedAt);
  } catch (err) {
    showHealth(err);
  }
}

start();
