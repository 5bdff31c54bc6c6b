/* global IntersectionObserver */
// Dashboard wiring: polls camera status, feeds live events to the cards,
// and runs the add/remove camera controls.

import { addCamera, getCameraStatuses, getHealth, removeCamera } from './api.js';
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

/** @type {Map<string, CameraCard>} */
const cards = new Map();
/** id → when it was removed here; a poll that started earlier must not bring it back. */
const removedAt = new Map();
let feedConnected = false;
let paintScheduled = false;
let lastHealth = null;
let polls = 0;

const visibility = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    const card = cards.get(entry.target.dataset.cameraId);
    if (card) card.preview.setVisible(entry.isIntersecting);
  }
});

const feed = new EventFeed(
  (event) => {
    const card = cards.get(event.camera);
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
);

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
  try {
    if (polls % HEALTH_EVERY === 0) lastHealth = await getHealth();
    const askedAt = performance.now();
    reconcile(await getCameraStatuses(), true, askedAt);
    showHealth();
  } catch (err) {
    showHealth(err);
  }
  polls += 1;
  setTimeout(poll, POLL_MS);
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
    showMessage(`Could not add ${input.id}: ${err.message}`, 'error');
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

feed.start();
poll();
