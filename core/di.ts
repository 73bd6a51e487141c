/**
 * tsyringe with its metadata polyfill loaded first: core modules import the decorators from here,
 * so any of them can be imported on its own (a test, a plugin) without an entry point's setup.
 */
import 'reflect-metadata';

export { container, inject, injectable, instanceCachingFactory, type DependencyContainer } from 'tsyringe';
