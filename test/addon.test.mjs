import test from 'ava';
import { native } from '../dist/native.js';

test('the native addon loads and exposes its test hooks', (t) => {
  t.is(typeof native._test, 'object');
});
