export * from './map.js';
