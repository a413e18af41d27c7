// The LLM port: chat requests, streamed events, backend kinds and errors, in the words of the services that
// ask a model for text (the router's RAG, the trainer's dataset generator). No model runtime is loaded here;
// the backends are `@llmtwin/llm/backends`.
export * from './llm.port.js';
