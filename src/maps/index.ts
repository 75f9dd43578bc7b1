export * from './map.js';
export * from './typed.js';
