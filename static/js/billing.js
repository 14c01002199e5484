// The Checkout success page: the credits come from Stripe's webhook, not from this page, so it asks the
// server until the top-up says it was credited (or failed), then shows the result and the new balance.
import { api, formatCredits } from './api.js';

const FIRST_DELAY_MS = 1000;
const MAX_DELAY_MS = 5000;
const GIVE_UP_MS = 10 * 60 * 1000;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function show(box, state) {
  for (const part of box.querySelectorAll('[data-state]')) part.hidden = part.dataset.state !== state;
}

function credited(box, topup) {
  box.querySelector('[data-credits]').textContent = String(topup.credits);
  box.querySelector('[data-balance-after]').textContent = formatCredits(topup.balance);
  const pill = document.querySelector('[data-balance]');
  if (pill) pill.textContent = formatCredits(topup.balance);
  show(box, 'credited');
}

function failed(box, topup) {
  if (topup.failure) box.querySelector('[data-failure]').textContent = topup.failure;
  show(box, 'failed');
}

async function watch(box) {
  const url = box.dataset.topupPoll;
  const status = box.querySelector('[data-status]');
  const started = Date.now();
  let delay = FIRST_DELAY_MS;
  while (Date.now() - started < GIVE_UP_MS) {
    try {
      const topup = await api(url);
      if (topup.credited) return credited(box, topup);
      if (topup.status === 'failed' || topup.status === 'expired') return failed(box, topup);
    } catch {
      // A dropped connection: keep asking; the payment itself is safe either way.
    }
    await sleep(delay);
    delay = Math.min(Math.round(delay * 1.5), MAX_DELAY_MS);
  }
  status.textContent = 'This is taking longer than usual. Your payment is safe: the credits appear on the ' +
    'Credits page as soon as Stripe confirms it.';
}

const box = document.querySelector('[data-topup-poll]');
if (box) watch(box);
