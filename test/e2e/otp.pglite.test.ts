import test from 'ava';
import { otpSuite } from './otp.suite.js';

otpSuite(test, 'pglite');
