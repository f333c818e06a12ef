// bridge's admin console: plain JavaScript, no inline script, every value written with textContent. It talks to
// the bridge's public /api/v2 and /legacy/api only, with the token the admin pasted (kept in sessionStorage).
'use strict';

const tokenKey = 'bridge.console.token';
const profileKey = 'bridge.console.profile';
const organizationKey = 'bridge.console.organization';

const $ = (id) => document.getElementById(id);

function say(text) { $('message').textContent = text; }

function token() { return sessionStorage.getItem(tokenKey) || ''; }

async function api(method, path, body) {
  const headers = { Authorization: 'Bearer ' + token() };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'omit', cache: 'no-store', redirect: 'error',
  });
  if (response.status === 204) return null;
  const parsed = await response.json().catch(() => null);
  if (!response.ok || (parsed && parsed.success === false)) {
    const detail = parsed ? (parsed.message || parsed.detail || parsed.title) : response.statusText;
    const code = parsed ? (parsed.errorCode || parsed.code || '') : '';
    throw new Error(response.status + ' ' + code + ': ' + detail);
  }
  return parsed && parsed.success === true ? parsed.data : parsed;
}

// Only a login URL the server handed out is followed, and only an http(s) one.
function openLogin(answer) {
  const url = new URL(answer.authorizationUrl);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('unexpected login URL');
  window.location.assign(url.href);
}

function cell(row, text) {
  const td = document.createElement('td');
  td.textContent = text === null || text === undefined ? '' : String(text);
  row.appendChild(td);
  return td;
}

function fillSelect(select, items, label, remembered) {
  select.replaceChildren();
  for (const item of items) {
    const option = document.createElement('option');
    option.value = String(item.id);
    option.textContent = label(item);
    select.appendChild(option);
  }
  if (items.some((item) => String(item.id) === remembered)) select.value = remembered;
}

function renderEvents(list, items) {
  list.replaceChildren();
  for (const event of items) {
    const li = document.createElement('li');
    const parts = [event.at, event.type];
    if (event.panel) parts.push('panel ' + event.panel);
    if (event.actor) parts.push('by ' + event.actor);
    if (event.detail) parts.push(event.detail);
    li.textContent = parts.join(' \u00b7 ');
    list.appendChild(li);
  }
}

let profiles = [];

async function loadProfiles() {
  profiles = (await api('GET', '/api/v2/profiles?limit=500')).items;
  fillSelect($('profile'), profiles, (p) => p.name + ' (' + p.legacyOrgId + ')', sessionStorage.getItem(profileKey));
}

function profilePath() { return '/api/v2/profiles/' + encodeURIComponent($('profile').value); }

async function loadModern() {
  if (!$('profile').value) return;
  sessionStorage.setItem(profileKey, $('profile').value);
  const crm = (await api('GET', profilePath() + '/connectivity')).crm;
  const status = $('crm-status');
  status.textContent = crm.status;
  status.className = 'status-' + crm.status;
  $('crm-environment').textContent = crm.environment || 'none';
  $('crm-account').textContent = crm.serviceAccount
    ? crm.serviceAccount.username + ' (' + crm.serviceAccount.userId + ')' : 'none';
  $('crm-error').textContent = crm.lastError || '';
  $('crm-login').hidden = !crm.actions.includes('login');
  $('crm-refresh').hidden = !crm.actions.includes('refresh');
  $('crm-disconnect').hidden = !crm.actions.includes('disconnect');

  const users = (await api('GET', profilePath() + '/users?limit=500')).items;
  const body = $('modern-users').tBodies[0];
  body.replaceChildren();
  for (const user of users) {
    const row = document.createElement('tr');
    row.dataset.userId = user.id;
    cell(row, user.displayName);
    cell(row, user.email);
    cell(row, user.synchronization.status);
    if (user.synchronization.status === 'Disabled') row.className = 'suspended';
    row.addEventListener('click', () => {
      $('modern-user-detail').hidden = false;
      $('modern-user-name').textContent = user.displayName + ' <' + user.email + '>';
      $('modern-user-status').textContent = user.synchronization.status;
      $('modern-user-reason').textContent = user.synchronization.reason || '';
    });
    body.appendChild(row);
  }
  $('modern-user-detail').hidden = true;
  renderEvents($('modern-events'), (await api('GET', profilePath() + '/connectivity/events?limit=50')).items);
}

async function loadOrganizations() {
  const organizations = await api('GET', '/legacy/api/organizations');
  fillSelect($('organization'), organizations, (o) => o.name + ' (' + o.id + ')',
             sessionStorage.getItem(organizationKey));
}

function organizationPath() { return '/legacy/api/organizations/' + encodeURIComponent($('organization').value); }

async function loadLegacy() {
  if (!$('organization').value) return;
  sessionStorage.setItem(organizationKey, $('organization').value);
  const connectivity = await api('GET', organizationPath() + '/salesforce-connectivity');
  $('legacy-toggle').checked = connectivity.loginUsingServiceAccount;
  $('legacy-production').disabled = !connectivity.loginUsingServiceAccount;
  $('legacy-sandbox').disabled = !connectivity.loginUsingServiceAccount;
  const status = $('legacy-status');
  status.textContent = connectivity.statusMessage;
  status.className = 'status-' + connectivity.connectionStatus;
  $('legacy-user-id').textContent = connectivity.serviceAccountUserId || 'none';
  $('legacy-environment').textContent = connectivity.environment || 'none';
  const lost = connectivity.lostDialog;
  $('lost-dialog').hidden = !lost;
  $('lost-message').textContent = lost ? lost.message : '';
  $('lost-reason').textContent = lost ? lost.reason + ' (since ' + lost.since + ')' : '';

  const users = (await api('GET', organizationPath() + '/users?offset=0&limit=500')).users;
  const body = $('legacy-users').tBodies[0];
  body.replaceChildren();
  for (const user of users) {
    const row = document.createElement('tr');
    cell(row, user.id);
    cell(row, user.displayName);
    cell(row, user.email);
    cell(row, user.syncSuspended ? 'suspended' : 'active');
    if (user.highlight === 'red') row.className = 'suspended';
    row.addEventListener('click', () => showLegacyUser(user.id).catch((error) => say(error.message)));
    body.appendChild(row);
  }
  $('legacy-user-notification').textContent = '';
  const profile = profiles.find((p) => String(p.legacyOrgId) === $('organization').value);
  if (profile) {
    const path = '/api/v2/profiles/' + encodeURIComponent(profile.id) + '/connectivity/events?limit=50';
    renderEvents($('legacy-events'), (await api('GET', path)).items);
  }
}

async function showLegacyUser(userId) {
  const user = await api('GET', organizationPath() + '/users/' + encodeURIComponent(userId));
  $('legacy-user-notification').textContent = user.displayName + ': ' + (user.notification || 'no notification');
}

function currentView() { return window.location.hash === '#legacy' ? 'legacy' : 'modern'; }

async function refreshView() {
  const view = currentView();
  $('modern').hidden = view !== 'modern';
  $('legacy').hidden = view !== 'legacy';
  $('nav-modern').className = view === 'modern' ? 'current' : '';
  $('nav-legacy').className = view === 'legacy' ? 'current' : '';
  if (!token()) { say('Paste a bearer token to start.'); return; }
  say('');
  if (profiles.length === 0) await loadProfiles();
  if (view === 'modern') await loadModern();
  else {
    if ($('organization').options.length === 0) await loadOrganizations();
    await loadLegacy();
  }
}

function run(action) {
  return () => action().catch((error) => say(error.message));
}

document.addEventListener('DOMContentLoaded', () => {
  $('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    sessionStorage.setItem(tokenKey, $('token').value.trim());
    $('token').value = '';
    profiles = [];
    $('organization').replaceChildren();
    run(refreshView)();
  });
  $('forget-token').addEventListener('click', () => { sessionStorage.removeItem(tokenKey); window.location.reload(); });
  window.addEventListener('hashchange', run(refreshView));
  $('profile').addEventListener('change', run(loadModern));
  $('organization').addEventListener('change', run(loadLegacy));
  $('crm-login').addEventListener('click', run(async () => openLogin(await api('POST', profilePath() + '/connectivity/crm/login', {}))));
  $('crm-refresh').addEventListener('click', run(async () => openLogin(await api('POST', profilePath() + '/connectivity/crm/refresh'))));
  $('crm-disconnect').addEventListener('click', run(async () => { await api('DELETE', profilePath() + '/connectivity/crm'); await loadModern(); }));
  $('legacy-toggle').addEventListener('change', run(async () => {
    await api('PUT', organizationPath() + '/salesforce-connectivity', { loginUsingServiceAccount: $('legacy-toggle').checked });
    await loadLegacy();
  }));
  const connect = (environment) => run(async () =>
    openLogin(await api('POST', organizationPath() + '/salesforce-connectivity/connect', { environment })));
  $('legacy-production').addEventListener('click', connect('production'));
  $('legacy-sandbox').addEventListener('click', connect('sandbox'));
  $('lost-yes').addEventListener('click', run(async () =>
    openLogin(await api('POST', organizationPath() + '/salesforce-connectivity/reconnect'))));
  $('lost-no').addEventListener('click', () => { $('lost-dialog').hidden = true; });
  run(refreshView)();
});
