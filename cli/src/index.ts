export { startEmbedded, embeddedAdapterUrls, type EmbeddedOptions, type EmbeddedTwin } from './embedded.js';
