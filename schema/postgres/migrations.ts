/**
 * Postgres migrations, applied in order on start and recorded in `sluice_migrations`, so a later
 * release can migrate an existing data dir. Never edit a released migration: add a new one.
 * The same SQL runs on PGlite and PostgreSQL.
 */
export interface Migration {
  version: number
  name: string
  statements: string[]
}

export const postgresMigrations: Migration[] = [
  {
    version: 1,
    name: 'projects, persons, distinct ids, groups, merge audit, offsets, outbox',
    statements: [
      `CREATE TABLE projects (
        id serial PRIMARY KEY,
        name text NOT NULL,
        api_token text NOT NULL UNIQUE,
        anonymize_ips boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now()
      )`,
      // A personal API key reads and administers exactly one project.
      `CREATE TABLE personal_api_keys (
        id serial PRIMARY KEY,
        secret text NOT NULL UNIQUE,
        project_id integer NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        created_at timestamptz NOT NULL DEFAULT now()
      )`,
      `CREATE TABLE persons (
        uuid uuid PRIMARY KEY,
        team_id integer NOT NULL,
        created_at timestamptz NOT NULL,
        properties jsonb NOT NULL DEFAULT '{}',
        is_identified boolean NOT NULL DEFAULT false,
        version bigint NOT NULL DEFAULT 0
      )`,
      // Deferred so that a batch may move distinct ids and delete the absorbed person in any order.
      `CREATE TABLE person_distinct_ids (
        team_id integer NOT NULL,
        distinct_id varchar(400) NOT NULL,
        person_uuid uuid NOT NULL REFERENCES persons (uuid) DEFERRABLE INITIALLY DEFERRED,
        version bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (team_id, distinct_id)
      )`,
      'CREATE INDEX person_distinct_ids_person ON person_distinct_ids (person_uuid)',
      `CREATE TABLE personless_distinct_ids (
        team_id integer NOT NULL,
        distinct_id varchar(400) NOT NULL,
        is_merged boolean NOT NULL DEFAULT false,
        PRIMARY KEY (team_id, distinct_id)
      )`,
      `CREATE TABLE group_type_mappings (
        team_id integer NOT NULL,
        group_type text NOT NULL,
        group_type_index smallint NOT NULL,
        PRIMARY KEY (team_id, group_type),
        UNIQUE (team_id, group_type_index)
      )`,
      `CREATE TABLE groups (
        team_id integer NOT NULL,
        group_type_index smallint NOT NULL,
        group_key varchar(400) NOT NULL,
        group_properties jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL,
        version bigint NOT NULL,
        PRIMARY KEY (team_id, group_type_index, group_key)
      )`,
      `CREATE TABLE person_merges (
        id bigserial PRIMARY KEY,
        team_id integer NOT NULL,
        kept_person_uuid uuid NOT NULL,
        merged_person_uuid uuid NOT NULL,
        distinct_ids jsonb NOT NULL,
        event_uuid uuid NOT NULL,
        event text NOT NULL,
        timestamp timestamptz NOT NULL,
        UNIQUE (event_uuid, merged_person_uuid)
      )`,
      'CREATE INDEX person_merges_kept ON person_merges (team_id, kept_person_uuid)',
      // Ingest's position in the command log, committed with the projection it produced.
      `CREATE TABLE consumer_offsets (
        group_id text NOT NULL,
        topic text NOT NULL,
        partition integer NOT NULL,
        next_offset bigint NOT NULL,
        PRIMARY KEY (group_id, topic, partition)
      )`,
      // Facts for the fact topics, written in the projection's transaction and published after it
      // commits (transactional outbox), so a crash between the two cannot lose them. JSON as text:
      // stored and read back whole, never queried, so not worth jsonb's parsing.
      `CREATE TABLE fact_outbox (
        id bigserial PRIMARY KEY,
        records text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`,
      // A batch's facts are read once and deleted: compressing them would cost more than it saves.
      `ALTER TABLE fact_outbox ALTER COLUMN records SET STORAGE EXTERNAL`,
    ],
  },
  {
    version: 2,
    name: 'ingest batch log: the order batches were applied in, for deterministic replay',
    statements: [
      // Partitions are consumed concurrently, so the order events of different partitions were
      // applied in is history: a replay must apply them in the same order to decide the same facts.
      `CREATE TABLE ingest_batches (
        seq bigserial PRIMARY KEY,
        group_id text NOT NULL,
        topic text NOT NULL,
        partition integer NOT NULL,
        first_offset bigint NOT NULL,
        next_offset bigint NOT NULL
      )`,
    ],
  },
  {
    version: 3,
    name: 'dead letters replayed: which letters `sluice dlq replay` appended again, and when',
    statements: [
      `CREATE TABLE dead_letter_replays (
        id text PRIMARY KEY,
        replayed_at timestamptz NOT NULL,
        replays integer NOT NULL DEFAULT 1
      )`,
    ],
  },
  {
    version: 4,
    name: 'outbox entries stored deflated',
    statements: [
      // A batch's facts are most of what ingest writes; deflated (off the main thread) they are a
      // fraction of the bytes. Entries an older release left as text are still read.
      'ALTER TABLE fact_outbox ADD COLUMN records_deflated bytea',
      'ALTER TABLE fact_outbox ALTER COLUMN records DROP NOT NULL',
      'ALTER TABLE fact_outbox ALTER COLUMN records_deflated SET STORAGE EXTERNAL',
    ],
  },
  {
    version: 5,
    name: 'personal API keys kept as SHA-256 digests',
    statements: [
      // A key is shown once, when made, and looked up by its digest. Keys an older release stored
      // in plain are digested in place, so they keep working.
      'ALTER TABLE personal_api_keys RENAME COLUMN secret TO key_sha256',
      'ALTER TABLE personal_api_keys RENAME CONSTRAINT personal_api_keys_secret_key TO personal_api_keys_key_sha256_key',
      `UPDATE personal_api_keys SET key_sha256 = encode(sha256(convert_to(key_sha256, 'UTF8')), 'hex')`,
      // Nothing but a digest can be stored, whatever a later change to the code does.
      `ALTER TABLE personal_api_keys ADD CONSTRAINT personal_api_keys_key_is_digest
        CHECK (key_sha256 ~ '^[0-9a-f]{64}$')`,
    ],
  },
  {
    version: 6,
    name: "feature flags and the hash key overrides that keep a user's variant across identify",
    statements: [
      `CREATE TABLE feature_flags (
        id serial PRIMARY KEY,
        team_id integer NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        key text NOT NULL,
        name text NOT NULL DEFAULT '',
        filters jsonb NOT NULL,
        active boolean NOT NULL DEFAULT true,
        deleted boolean NOT NULL DEFAULT false,
        ensure_experience_continuity boolean NOT NULL DEFAULT false,
        version integer NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`,
      // A key names one live flag per project; deleted flags keep theirs and may be restored.
      'CREATE UNIQUE INDEX feature_flags_live_key ON feature_flags (team_id, key) WHERE NOT deleted',
      // Which id a continuity flag hashes for a distinct id (the anonymous id it had before
      // identify). Keyed by distinct id rather than by person, so a merge that absorbs a person
      // loses none, and a row written before ingest created the person still counts.
      `CREATE TABLE feature_flag_hash_key_overrides (
        team_id integer NOT NULL,
        distinct_id varchar(400) NOT NULL,
        feature_flag_key text NOT NULL,
        hash_key text NOT NULL,
        PRIMARY KEY (team_id, distinct_id, feature_flag_key)
      )`,
    ],
  },
  {
    version: 8,
    name: 'apps: their versions, what ingest ran of them per batch, and their logs',
    statements: [
      // An app is deleted by a mark: replays still run the versions that ran before.
      `CREATE TABLE apps (
        id serial PRIMARY KEY,
        team_id integer NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        version integer NOT NULL DEFAULT 1,
        enabled boolean NOT NULL DEFAULT true,
        run_order integer NOT NULL,
        deleted boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`,
      'CREATE INDEX apps_team ON apps (team_id, run_order, id) WHERE NOT deleted',
      // Everything that decides what an app does to an event, per version, never changed once written.
      `CREATE TABLE app_versions (
        app_id integer NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
        version integer NOT NULL,
        name text NOT NULL,
        source text NOT NULL,
        config jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (app_id, version)
      )`,
      // Which app versions ran on a range of the command log, and which failed on which event:
      // written in the batch's transaction, read by replays, never emptied by them.
      `CREATE TABLE app_runs (
        seq bigserial PRIMARY KEY,
        group_id text NOT NULL,
        topic text NOT NULL,
        partition integer NOT NULL,
        first_offset bigint NOT NULL,
        next_offset bigint NOT NULL,
        runs jsonb NOT NULL,
        failures jsonb NOT NULL
      )`,
      `CREATE TABLE app_logs (
        id bigserial PRIMARY KEY,
        app_id integer NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
        team_id integer NOT NULL,
        timestamp timestamptz NOT NULL,
        level text NOT NULL,
        message text NOT NULL,
        event_uuid uuid
      )`,
      'CREATE INDEX app_logs_app ON app_logs (app_id, id)',
    ],
  },
]
