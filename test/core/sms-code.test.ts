/** The verification code found in a received SMS (rental messages' `code`). */
import test from 'ava';
import { extractCode } from '../../core/sms-code.js';

test('codes after a keyword, digits or letters-and-digits, in several languages', (t) => {
  t.is(extractCode('Your verification code is: 123456'), '123456');
  t.is(extractCode('Facebook code: AB12CD. Do not share it.'), 'AB12CD');
  t.is(extractCode('Your PIN is 2024'), '2024');
  t.is(extractCode('OTP 9876 valid for 5 minutes'), '9876');
  t.is(extractCode('Tu código es 4821'), '4821');
  t.is(extractCode('Your code is 123-456'), '123456');
  t.is(extractCode('Use code 55 or call us'), null, 'too short after the keyword, nothing else');
});

test('free-standing codes, with the code chosen over numbers that are not one', (t) => {
  t.is(extractCode('G-482913 is your Google verification code.'), '482913');
  t.is(extractCode('Ihr Code lautet 739120'), '739120');
  t.is(extractCode('Paid $1250 on 12/05/2024. 4417 is your login code'), '4417');
  t.is(extractCode('384756 — enter it in the app'), '384756');
});

test('phone numbers, dates, times, amounts, years and ids are not codes', (t) => {
  t.is(extractCode('Call +1 415 555 2671 for help'), null);
  t.is(extractCode('Appointment on 2024-05-12 at 10:30'), null);
  t.is(extractCode('You paid 1.250,00 EUR'), null);
  t.is(extractCode('Transfer of 5000 USD received'), null);
  t.is(extractCode('Happy new year 2025!'), null);
  t.is(extractCode('Order AB123456 shipped'), null);
  t.is(extractCode('Discount 2500% today'), null);
  t.is(extractCode('Your code is ready to collect'), null);
  t.is(extractCode(''), null);
});
