// The embedded vector store's tables: a catalogue of collections and aliases, and per collection a metadata
// table, a sqlite-vec vec0 table (the filterable metadata repeated as vec0 metadata columns, so filters apply
// inside the KNN scan) and a contentless FTS5 table. Kept in one place because the query code depends on
// these exact column names and tokenizer.
import type Database from 'better-sqlite3';

/** Creates the catalogue tables when the file is new. */
export function createCatalog(db: Database.Database): void {
  db.exec(`
    create table if not exists vs_collections (
      id integer primary key autoincrement,
      name text not null unique,
      dimensions integer not null,
      created_at integer not null
    );
    create table if not exists vs_aliases (
      alias text primary key,
      collection text not null
    );`);
}

/** Creates the tables of collection `id`; run inside the transaction that catalogues it. */
export function createCollectionTables(db: Database.Database, id: number, dimensions: number): void {
  db.exec(`
    create table vs_meta_${id} (
      rid integer primary key autoincrement,
      chunk_id text not null unique,
      text text not null,
      document_id text not null,
      document_version integer not null,
      author_id text not null,
      category text not null,
      platform text not null,
      url text not null,
      title text not null,
      published_at integer not null,
      section text not null,
      position integer not null
    );
    create index vs_meta_${id}_document on vs_meta_${id} (document_id, document_version);
    create virtual table vs_vec_${id} using vec0 (
      rid integer primary key,
      embedding float[${dimensions}] distance_metric=cosine,
      author_id text,
      category text,
      platform text,
      document_id text,
      document_version integer,
      published_at integer
    );
    create virtual table vs_fts_${id} using fts5 (
      text, content='', contentless_delete=1, tokenize='porter unicode61 remove_diacritics 2'
    );`);
}

/** Drops the tables of collection `id`. */
export function dropCollectionTables(db: Database.Database, id: number): void {
  db.exec(`drop table vs_vec_${id}; drop table vs_fts_${id}; drop table vs_meta_${id};`);
}
