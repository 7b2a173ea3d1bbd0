"""Schema as an ordered list of forward migrations.

Each entry runs once, inside the same transaction that records it in
`schema_migrations`, so a crash mid-migration leaves the old schema intact.
Never edit a shipped migration: append a new one.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[str, str]] = [
    (
        "core_tables",
        """
        CREATE TABLE principals (
            id TEXT PRIMARY KEY,
            role TEXT NOT NULL CHECK (role IN ('user', 'agent', 'ops')),
            token_hash TEXT UNIQUE,
            run_id TEXT REFERENCES runs(id),
            task_id TEXT REFERENCES tasks(id),
            created_at REAL NOT NULL,
            revoked_at REAL
        );
        CREATE TABLE workflows (
            name TEXT PRIMARY KEY,
            definition TEXT NOT NULL,
            registered_by TEXT NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            workflow_name TEXT NOT NULL,
            workflow TEXT NOT NULL,
            goal TEXT NOT NULL,
            params TEXT NOT NULL DEFAULT '{}',
            status TEXT NOT NULL CHECK (status IN ('active', 'completed', 'cancelled')),
            max_agents INTEGER NOT NULL,
            created_by TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE TABLE tasks (
            id TEXT PRIMARY KEY,
            run_id TEXT NOT NULL REFERENCES runs(id),
            phase INTEGER NOT NULL,
            title TEXT NOT NULL,
            description TEXT NOT NULL,
            done_definition TEXT NOT NULL DEFAULT '',
            priority INTEGER NOT NULL DEFAULT 2,
            status TEXT NOT NULL CHECK (status IN (
                'queued', 'blocked', 'claimed', 'running', 'validating', 'needs_work',
                'done', 'failed', 'cancelled', 'duplicate')),
            created_by TEXT NOT NULL,
            parent_task_id TEXT REFERENCES tasks(id),
            summary TEXT,
            learnings TEXT NOT NULL DEFAULT '[]',
            attempts INTEGER NOT NULL DEFAULT 0,
            claimed_by TEXT,
            lease_expires_at REAL,
            failure_reason TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            finished_at REAL
        );
        CREATE INDEX tasks_queue ON tasks (status, priority DESC, created_at);
        CREATE INDEX tasks_run ON tasks (run_id, phase, status);
        CREATE TABLE task_dependencies (
            task_id TEXT NOT NULL REFERENCES tasks(id),
            depends_on TEXT NOT NULL REFERENCES tasks(id),
            PRIMARY KEY (task_id, depends_on)
        );
        CREATE TABLE agents (
            id TEXT PRIMARY KEY,
            task_id TEXT NOT NULL REFERENCES tasks(id),
            run_id TEXT NOT NULL REFERENCES runs(id),
            session_name TEXT NOT NULL,
            worktree TEXT,
            cli TEXT NOT NULL,
            worker TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('running', 'exited')),
            exit_reason TEXT,
            started_at REAL NOT NULL,
            ended_at REAL
        );
        CREATE INDEX agents_task ON agents (task_id);
        CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT REFERENCES runs(id),
            task_id TEXT REFERENCES tasks(id),
            actor TEXT NOT NULL,
            kind TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '{}',
            at REAL NOT NULL
        );
        CREATE INDEX events_run ON events (run_id, id);
        """,
    ),
    (
        "memory_and_task_links",
        """
        CREATE TABLE memories (
            id TEXT PRIMARY KEY,
            scope TEXT NOT NULL,
            type TEXT NOT NULL CHECK (type IN ('discovery', 'decision', 'error_fix', 'warning',
                'codebase_knowledge', 'learning')),
            content TEXT NOT NULL,
            tags TEXT NOT NULL DEFAULT '[]',
            files TEXT NOT NULL DEFAULT '[]',
            created_by TEXT NOT NULL,
            task_id TEXT REFERENCES tasks(id),
            merged_count INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE INDEX memories_scope ON memories (scope, created_at);
        CREATE TABLE task_links (
            task_id TEXT NOT NULL REFERENCES tasks(id),
            related_id TEXT NOT NULL REFERENCES tasks(id),
            kind TEXT NOT NULL CHECK (kind IN ('duplicate', 'related')),
            score REAL NOT NULL,
            PRIMARY KEY (task_id, related_id)
        );
        CREATE INDEX task_links_related ON task_links (related_id);
        CREATE INDEX task_dependencies_on ON task_dependencies (depends_on);
        ALTER TABLE tasks ADD COLUMN duplicate_of TEXT REFERENCES tasks(id)
        """,
    ),
    (
        "git_branches_and_merges",
        """
        ALTER TABLE tasks ADD COLUMN base_ref TEXT;
        ALTER TABLE tasks ADD COLUMN merge_state TEXT CHECK (merge_state IN (
            'merged', 'nothing', 'conflict'));
        ALTER TABLE tasks ADD COLUMN merge_commit TEXT;
        CREATE INDEX agents_worker ON agents (worker, status)
        """,
    ),
    (
        "guidance_and_analyses",
        """
        CREATE TABLE guidance (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL REFERENCES runs(id),
            agent_id TEXT NOT NULL REFERENCES agents(id),
            task_id TEXT NOT NULL REFERENCES tasks(id),
            source TEXT NOT NULL,
            severity TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'severe')),
            text TEXT NOT NULL,
            created_at REAL NOT NULL,
            delivered_at REAL,
            delivered_via TEXT CHECK (delivered_via IN ('prompt', 'tool_result'))
        );
        CREATE INDEX guidance_pending ON guidance (agent_id, delivered_at);
        CREATE TABLE analyses (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL REFERENCES runs(id),
            agent_id TEXT NOT NULL REFERENCES agents(id),
            task_id TEXT NOT NULL REFERENCES tasks(id),
            judge TEXT NOT NULL,
            state TEXT NOT NULL,
            alignment REAL NOT NULL,
            summary TEXT NOT NULL,
            steering TEXT,
            guidance_id INTEGER REFERENCES guidance(id),
            tokens_in INTEGER NOT NULL DEFAULT 0,
            tokens_out INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL
        );
        CREATE INDEX analyses_agent ON analyses (agent_id, id)
        """,
    ),
    (
        "validation_and_results",
        """
        CREATE TABLE results (
            id TEXT PRIMARY KEY,
            run_id TEXT NOT NULL REFERENCES runs(id),
            task_id TEXT REFERENCES tasks(id),
            submitted_by TEXT NOT NULL,
            markdown TEXT NOT NULL,
            evidence TEXT NOT NULL DEFAULT '[]',
            status TEXT NOT NULL CHECK (status IN ('pending', 'validated', 'rejected')),
            feedback TEXT,
            created_at REAL NOT NULL,
            decided_at REAL
        );
        CREATE INDEX results_run ON results (run_id, created_at);
        ALTER TABLE tasks ADD COLUMN kind TEXT NOT NULL DEFAULT 'work'
            CHECK (kind IN ('work', 'validation', 'result_validation'));
        ALTER TABLE tasks ADD COLUMN validates TEXT REFERENCES tasks(id);
        ALTER TABLE tasks ADD COLUMN result_id TEXT REFERENCES results(id);
        ALTER TABLE tasks ADD COLUMN feedback TEXT;
        CREATE INDEX tasks_validates ON tasks (validates)
        """,
    ),
    (
        "tickets",
        """
        CREATE TABLE tickets (
            id TEXT PRIMARY KEY,
            run_id TEXT NOT NULL REFERENCES runs(id),
            title TEXT NOT NULL,
            description TEXT NOT NULL,
            type TEXT NOT NULL CHECK (type IN ('bug', 'feature', 'task', 'improvement')),
            priority INTEGER NOT NULL DEFAULT 2,
            status TEXT NOT NULL,
            created_by TEXT NOT NULL,
            assignee TEXT,
            tags TEXT NOT NULL DEFAULT '[]',
            resolution TEXT,
            resolved_by TEXT,
            resolved_at REAL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE INDEX tickets_run ON tickets (run_id, status);
        CREATE TABLE ticket_blockers (
            ticket_id TEXT NOT NULL REFERENCES tickets(id),
            blocked_by TEXT NOT NULL REFERENCES tickets(id),
            PRIMARY KEY (ticket_id, blocked_by)
        );
        CREATE INDEX ticket_blockers_by ON ticket_blockers (blocked_by);
        CREATE TABLE ticket_comments (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            ticket_id TEXT NOT NULL REFERENCES tickets(id),
            author TEXT NOT NULL,
            text TEXT NOT NULL,
            at REAL NOT NULL
        );
        CREATE INDEX ticket_comments_ticket ON ticket_comments (ticket_id, id);
        CREATE TABLE ticket_history (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            ticket_id TEXT NOT NULL REFERENCES tickets(id),
            actor TEXT NOT NULL,
            field TEXT NOT NULL,
            old TEXT,
            new TEXT,
            at REAL NOT NULL
        );
        CREATE INDEX ticket_history_ticket ON ticket_history (ticket_id, id);
        CREATE VIRTUAL TABLE tickets_fts USING fts5(
            ticket_id UNINDEXED, run_id UNINDEXED, title, body
        );
        ALTER TABLE tasks ADD COLUMN ticket_id TEXT REFERENCES tickets(id);
        CREATE INDEX tasks_ticket ON tasks (ticket_id)
        """,
    ),
    (
        "approvals",
        """
        CREATE TABLE approvals (
            id TEXT PRIMARY KEY,
            run_id TEXT NOT NULL REFERENCES runs(id),
            task_id TEXT NOT NULL REFERENCES tasks(id),
            agent_id TEXT NOT NULL REFERENCES agents(id),
            tool TEXT NOT NULL,
            subject TEXT NOT NULL,
            input TEXT NOT NULL DEFAULT '{}',
            status TEXT NOT NULL CHECK (status IN (
                'pending', 'allowed', 'denied', 'expired', 'cancelled')),
            decided_by TEXT,
            message TEXT NOT NULL DEFAULT '',
            answers TEXT,
            created_at REAL NOT NULL,
            expires_at REAL,
            decided_at REAL
        );
        CREATE INDEX approvals_status ON approvals (status, run_id);
        CREATE INDEX approvals_agent ON approvals (agent_id, status)
        """,
    ),
    (
        "merge_queue_states",
        # SQLite cannot widen a CHECK: the old column keeps its name's history under a new
        # name, and merge_state is added again with the merge queue's states.
        """
        ALTER TABLE tasks RENAME COLUMN merge_state TO merge_state_before_queue;
        ALTER TABLE tasks ADD COLUMN merge_state TEXT CHECK (merge_state IN (
            'queued', 'verifying', 'merged', 'nothing', 'conflict', 'verify_failed'));
        UPDATE tasks SET merge_state = merge_state_before_queue;
        ALTER TABLE tasks ADD COLUMN merge_worker TEXT;
        ALTER TABLE tasks ADD COLUMN merge_queued_at REAL;
        ALTER TABLE tasks ADD COLUMN merge_check TEXT;
        ALTER TABLE tasks ADD COLUMN feedback_from TEXT CHECK (feedback_from IN (
            'validator', 'verify'));
        ALTER TABLE tasks ADD COLUMN carries TEXT REFERENCES tasks(id);
        ALTER TABLE runs ADD COLUMN awaiting_merges_since REAL;
        CREATE INDEX tasks_merge_queue ON tasks (run_id, merge_state, merge_queued_at);
        CREATE INDEX tasks_carries ON tasks (carries)
        """,
    ),
    (
        "merge_queue_land_requests",
        """
        CREATE TABLE land_requests (
            id TEXT PRIMARY KEY,
            run_id TEXT NOT NULL REFERENCES runs(id),
            into_branch TEXT,
            state TEXT NOT NULL CHECK (state IN (
                'pending', 'claimed', 'landed', 'nothing', 'refused')),
            worker TEXT,
            commit_sha TEXT,
            message TEXT NOT NULL DEFAULT '',
            requested_by TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE INDEX land_requests_state ON land_requests (state, created_at)
        """,
    ),
    ("lineage_of_tasks", "ALTER TABLE tasks ADD COLUMN lineage TEXT"),
    (
        "operator_controls_and_costs",
        # runs.status has a CHECK: a pause and an exhausted budget are columns, not statuses,
        # because a paused or over-budget run is still active (its agents keep working).
        """
        ALTER TABLE runs ADD COLUMN paused_at REAL;
        ALTER TABLE runs ADD COLUMN paused_by TEXT;
        ALTER TABLE runs ADD COLUMN budget_tokens INTEGER;
        ALTER TABLE runs ADD COLUMN budget_usd REAL;
        ALTER TABLE runs ADD COLUMN budget_warned_at REAL;
        ALTER TABLE runs ADD COLUMN over_budget_at REAL;
        CREATE TABLE usage (
            agent_id TEXT NOT NULL REFERENCES agents(id),
            key TEXT NOT NULL,
            run_id TEXT NOT NULL REFERENCES runs(id),
            task_id TEXT NOT NULL REFERENCES tasks(id),
            source TEXT NOT NULL CHECK (source IN ('agent', 'guardian')),
            model TEXT NOT NULL,
            input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            cache_read_tokens INTEGER NOT NULL DEFAULT 0,
            cache_write_tokens INTEGER NOT NULL DEFAULT 0,
            recorded_at REAL NOT NULL,
            PRIMARY KEY (run_id, key)
        );
        CREATE INDEX usage_agent ON usage (agent_id)
        """,
    ),
    (
        "live_view_task_diffstats",
        # The diff stat of a task's branch against heph/<run>, as its launcher last saw it:
        # kept after the branch is merged and deleted, for the task's detail view.
        """
        CREATE TABLE task_diffstats (
            task_id TEXT PRIMARY KEY REFERENCES tasks(id),
            base TEXT NOT NULL,
            files INTEGER NOT NULL,
            insertions INTEGER NOT NULL,
            deletions INTEGER NOT NULL,
            text TEXT NOT NULL,
            reported_by TEXT NOT NULL,
            at REAL NOT NULL
        )
        """,
    ),
    # Placement: the worker labels (JSON list) a task needs, beyond its phase's `requires`.
    ("task_required_labels", "ALTER TABLE tasks ADD COLUMN requires TEXT"),
]
