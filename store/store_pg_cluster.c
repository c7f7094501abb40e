/* store/store_pg_cluster.c - the PostgreSQL backend's cluster mode: the
 * nodes table, registration and heartbeats, owners, claims, ids.
 *
 * Several armmapd nodes share one database (store.h, "Cluster mode").
 * The database's clock (now()) is the only clock: a lease is a row's
 * expires_at, renewed by a heartbeat, and a machine is owned by a live
 * node iff its (owner_node, owner_epoch) names a nodes row of that epoch
 * whose expires_at is still ahead.  A claim is one conditional UPDATE
 * that succeeds only while that is false, so of two nodes racing for a
 * machine the second one's UPDATE, which waits for the first one's row
 * lock, finds the new owner live and changes nothing.  The writer's
 * fence (store_pg.c, run_cluster_batch) holds FOR SHARE locks on the
 * machines of its batch, so a claim waits for a write in progress and
 * the claimer then rebuilds from a history that includes it.
 *
 * Connections: @hbconn for registering and heartbeats (the daemon's
 * heartbeat thread after start), @idconn for id reservations (under
 * @idlock, any thread that submits a creation), and the loop thread's
 * read connection for owners and claims.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_int.h"

#define ID_BLOCK 16 /* ids reserved per round trip */

/* The schema's cluster additions, each its own statement (other changes
 * to the schema merge beside them). */
bool pg__cluster_schema(PGconn *c, char *err)
{
    static const char *const sql[] = {
        "CREATE TABLE IF NOT EXISTS nodes (name text PRIMARY KEY,"
        " epoch bigint NOT NULL, address text NOT NULL, http_address text,"
        " expires_at timestamptz NOT NULL)",
        "ALTER TABLE machines ADD COLUMN IF NOT EXISTS owner_node text",
        "ALTER TABLE machines ADD COLUMN IF NOT EXISTS owner_epoch bigint",
    };
    size_t i;

    for (i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
        PGresult *r = pg__exec(c, "creating the cluster's tables", sql[i], 0,
                               NULL, PGRES_COMMAND_OK, err);

        if (r == NULL)
            return false;
        PQclear(r);
    }
    return true;
}

void pg__cluster_close(struct store *s)
{
    PQfinish(s->hbconn);
    PQfinish(s->idconn);
    s->hbconn = s->idconn = NULL;
}

/* *@c connected (again if the server dropped it); false with @err. */
static bool alive(struct store *s, PGconn **c, char *err)
{
    if (*c != NULL && PQstatus(*c) == CONNECTION_OK)
        return true;
    PQfinish(*c);
    *c = pg__connect(s->url, err);
    return *c != NULL;
}

static bool not_cluster(const struct store *s, char *err)
{
    if (s->node != NULL)
        return false;
    pg__format(err, STORE_MSG_MAX,
               "cluster mode: the store was opened "
               "without a node name");
    return true;
}

bool pg__cluster_new_id(struct store *s, uint64_t *id, char *err)
{
    char n[24];
    const char *val[1] = { n };
    PGresult *r;
    bool ok = true;

    pthread_mutex_lock(&s->idlock);
    if (s->id_next == 0 || s->id_next >= s->id_end) {
        snprintf(n, sizeof(n), "%d", ID_BLOCK);
        r = NULL;
        if (alive(s, &s->idconn, err))
            r = pg__exec(s->idconn, "reserving machine ids",
                         "UPDATE armmap_meta SET value = value + $1"
                         " WHERE key = 'max_id' RETURNING value",
                         1, val, PGRES_TUPLES_OK, err);
        if (r == NULL || PQntuples(r) != 1) {
            if (r != NULL)
                pg__format(err, STORE_MSG_MAX,
                           "postgresql: reserving "
                           "machine ids: no max_id row");
            ok = false;
        } else {
            s->id_end = pg__u64(r, 0, 0) + 1;
            s->id_next = s->id_end - ID_BLOCK;
        }
        PQclear(r);
    }
    if (ok)
        *id = s->id_next++;
    pthread_mutex_unlock(&s->idlock);
    return ok;
}

enum store_status pg_node_register(struct store *s, const struct store_node *n,
                                   int64_t *epoch, char err[STORE_MSG_MAX])
{
    char lease[24];
    const char *val[4];
    PGresult *r;

    if (not_cluster(s, err))
        return STORE_INVALID_ARGUMENT;
    if (n == NULL || n->name == NULL || strcmp(n->name, s->node) != 0 ||
        n->address == NULL || n->lease_ms == 0) {
        pg__format(err, STORE_MSG_MAX,
                   "cluster mode: register: the node is not the store's"
                   " (name, address and lease are needed)");
        return STORE_INVALID_ARGUMENT;
    }
    snprintf(lease, sizeof(lease), "%" PRIu32, n->lease_ms);
    val[0] = n->name;
    val[1] = n->address;
    val[2] = n->http_address;
    val[3] = lease;
    if (!alive(s, &s->hbconn, err))
        return STORE_UNAVAILABLE;
    r = pg__exec(s->hbconn, "registering the node",
                 "INSERT INTO nodes (name, epoch, address, http_address,"
                 " expires_at) VALUES ($1, 1, $2, $3, now() + $4::bigint *"
                 " interval '1 millisecond') ON CONFLICT (name) DO UPDATE"
                 " SET epoch = nodes.epoch + 1, address = excluded.address,"
                 " http_address = excluded.http_address,"
                 " expires_at = excluded.expires_at RETURNING epoch",
                 4, val, PGRES_TUPLES_OK, err);
    if (r == NULL)
        return STORE_UNAVAILABLE;
    *epoch = pg__i64(r, 0, 0);
    PQclear(r);
    pthread_mutex_lock(&s->lock);
    s->epoch = *epoch;
    s->lease_ms = n->lease_ms;
    pthread_mutex_unlock(&s->lock);
    return STORE_OK;
}

enum store_status pg_node_heartbeat(struct store *s, char err[STORE_MSG_MAX])
{
    char ep[24], lease[24];
    const char *val[3] = { s->node, ep, lease };
    PGresult *r;
    int rows;

    if (not_cluster(s, err))
        return STORE_INVALID_ARGUMENT;
    pthread_mutex_lock(&s->lock);
    snprintf(ep, sizeof(ep), "%" PRId64, s->epoch);
    snprintf(lease, sizeof(lease), "%" PRIu32, s->lease_ms);
    pthread_mutex_unlock(&s->lock);
    if (!alive(s, &s->hbconn, err))
        return STORE_UNAVAILABLE;
    r = pg__exec(s->hbconn, "heartbeat",
                 "UPDATE nodes SET expires_at = now() + $3::bigint *"
                 " interval '1 millisecond' WHERE name = $1 AND epoch ="
                 " $2::bigint",
                 3, val, PGRES_COMMAND_OK, err);
    if (r == NULL)
        return STORE_UNAVAILABLE;
    rows = atoi(PQcmdTuples(r));
    PQclear(r);
    if (rows == 0) {
        pg__format(err, STORE_MSG_MAX,
                   "node %s: epoch %s was replaced "
                   "(another incarnation registered)",
                   s->node, ep);
        return STORE_FENCED;
    }
    return STORE_OK;
}

bool pg__cluster_node_ok(struct store *s, int64_t epoch, char *why, char *err,
                         bool *failed)
{
    char ep[24];
    const char *val[2] = { s->node, ep };
    PGresult *r;
    bool ok;

    snprintf(ep, sizeof(ep), "%" PRId64, epoch);
    r = pg__exec(s->wconn, "checking the node's lease",
                 "SELECT epoch = $2::bigint AND expires_at >"
                 " clock_timestamp() FROM nodes WHERE name = $1",
                 2, val, PGRES_TUPLES_OK, err);
    if (r == NULL) {
        *failed = true;
        return false;
    }
    ok = PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (!ok)
        pg__format(why, STORE_MSG_MAX,
                   "node %s: its lease expired or it was "
                   "replaced (epoch %" PRId64 "); nothing was written",
                   s->node, epoch);
    return ok;
}

/* Copies column @col of row 0 of @r into @dst (@n bytes), "" if NULL. */
static void text_col(const PGresult *r, int col, char *dst, size_t n)
{
    snprintf(dst, n, "%s", PQgetisnull(r, 0, col) ? "" : PQgetvalue(r, 0, col));
}

/* pg_machine_owner() on connection *@c (the loop's, or a reader's). */
static enum store_status owner_on(struct store *s, PGconn **c, uint64_t id,
                                  struct store_owner *o, char *err)
{
    char num[24], ep[24];
    const char *val[3] = { num, s->node, ep };
    PGresult *r;

    memset(o, 0, sizeof(*o));
    if (not_cluster(s, err))
        return STORE_INVALID_ARGUMENT;
    snprintf(num, sizeof(num), "%" PRIu64, id);
    pthread_mutex_lock(&s->lock);
    snprintf(ep, sizeof(ep), "%" PRId64, s->epoch);
    pthread_mutex_unlock(&s->lock);
    if (!alive(s, c, err))
        return STORE_UNAVAILABLE;
    r = pg__exec(*c, "reading a machine's owner",
                 "SELECT m.destroyed IS NOT NULL, m.owner_node IS NOT NULL,"
                 " coalesce(n.epoch = m.owner_epoch AND n.expires_at > now(),"
                 " false), coalesce(m.owner_epoch, 0), m.owner_node,"
                 " n.address, n.http_address,"
                 " m.owner_node IS NOT DISTINCT FROM $2 AND"
                 " m.owner_epoch IS NOT DISTINCT FROM $3::bigint"
                 " FROM machines m LEFT JOIN nodes n ON n.name = m.owner_node"
                 " WHERE m.id = $1::bigint",
                 3, val, PGRES_TUPLES_OK, err);
    if (r == NULL)
        return STORE_UNAVAILABLE;
    if (PQntuples(r) == 1) {
        o->exists = true;
        o->destroyed = PQgetvalue(r, 0, 0)[0] == 't';
        o->owned = PQgetvalue(r, 0, 1)[0] == 't';
        o->live = PQgetvalue(r, 0, 2)[0] == 't';
        o->epoch = pg__i64(r, 0, 3);
        text_col(r, 4, o->node, sizeof(o->node));
        text_col(r, 5, o->address, sizeof(o->address));
        text_col(r, 6, o->http_address, sizeof(o->http_address));
        o->mine = o->live && PQgetvalue(r, 0, 7)[0] == 't';
    }
    PQclear(r);
    return STORE_OK;
}

enum store_status pg_machine_owner(struct store *s, uint64_t id,
                                   struct store_owner *o,
                                   char err[STORE_MSG_MAX])
{
    return owner_on(s, &s->rd.conn, id, o, err);
}

enum store_status pg_reader_machine_owner(struct store_reader *r, uint64_t id,
                                          struct store_owner *o,
                                          char err[STORE_MSG_MAX])
{
    return owner_on(r->s, &r->conn, id, o, err);
}

/* Ends the claim's transaction: COMMIT if @ok, else ROLLBACK. */
static bool end_claim(PGconn *c, bool ok, char *err)
{
    PGresult *r = PQexec(c, ok ? "COMMIT" : "ROLLBACK");
    bool done = PQresultStatus(r) == PGRES_COMMAND_OK;

    if (!done && ok)
        pg__conn_err(c, "claiming a machine", err);
    PQclear(r);
    return done;
}

/* The claim locks the row first (SELECT ... FOR UPDATE), so that the
 * conditional UPDATE after it reads the row as it stands and the owner's
 * nodes row as it stands: a single UPDATE would, after waiting for a
 * racing claim's lock, recheck only the row and not the join with nodes
 * (PostgreSQL's EvalPlanQual), and both racers would win. */
static enum store_status claim_on(struct store *s, PGconn **c, uint64_t id,
                                  bool *won, char *err)
{
    char num[24], ep[24];
    const char *val[3] = { num, s->node, ep };
    PGresult *r;

    *won = false;
    if (not_cluster(s, err))
        return STORE_INVALID_ARGUMENT;
    snprintf(num, sizeof(num), "%" PRIu64, id);
    pthread_mutex_lock(&s->lock);
    snprintf(ep, sizeof(ep), "%" PRId64, s->epoch);
    pthread_mutex_unlock(&s->lock);
    if (!alive(s, c, err))
        return STORE_UNAVAILABLE;
    r = pg__exec(*c, "claiming a machine", "BEGIN", 0, NULL, PGRES_COMMAND_OK,
                 err);
    if (r == NULL)
        return STORE_UNAVAILABLE;
    PQclear(r);
    r = pg__exec(*c, "claiming a machine",
                 "SELECT 1 FROM machines WHERE id = $1::bigint FOR UPDATE", 1,
                 val, PGRES_TUPLES_OK, err);
    if (r != NULL) {
        PQclear(r);
        r = pg__exec(*c, "claiming a machine",
                     "UPDATE machines m SET owner_node = $2,"
                     " owner_epoch = $3::bigint WHERE m.id = $1::bigint AND"
                     " m.destroyed IS NULL AND NOT EXISTS (SELECT 1 FROM"
                     " nodes n WHERE n.name = m.owner_node AND n.epoch ="
                     " m.owner_epoch AND n.expires_at > now()) AND EXISTS"
                     " (SELECT 1 FROM nodes me WHERE me.name = $2 AND"
                     " me.epoch = $3::bigint AND me.expires_at > now())",
                     3, val, PGRES_COMMAND_OK, err);
    }
    if (r == NULL) {
        end_claim(*c, false, err);
        return STORE_UNAVAILABLE;
    }
    *won = atoi(PQcmdTuples(r)) == 1;
    PQclear(r);
    if (!end_claim(*c, true, err)) {
        *won = false;
        return STORE_UNAVAILABLE;
    }
    return STORE_OK;
}

enum store_status pg_machine_claim(struct store *s, uint64_t id, bool *won,
                                   char err[STORE_MSG_MAX])
{
    return claim_on(s, &s->rd.conn, id, won, err);
}

enum store_status pg_reader_machine_claim(struct store_reader *r, uint64_t id,
                                          bool *won, char err[STORE_MSG_MAX])
{
    return claim_on(r->s, &r->conn, id, won, err);
}

/* store_set_next_id(): only a single node's counter (a cluster's ids come
 * from the database), only forward. */
enum store_status pg_set_next_id(struct store *s, uint64_t id)
{
    enum store_status rc = STORE_OK;

    pthread_mutex_lock(&s->lock);
    if (s->node != NULL || id == 0 || id < s->next_id ||
        id > (uint64_t)INT64_MAX) {
        if (s->node != NULL)
            pg__format(s->errmsg, sizeof(s->errmsg),
                       "next machine id %" PRIu64
                       ": a cluster takes ids from the database",
                       id);
        else
            pg__format(s->errmsg, sizeof(s->errmsg),
                       "next machine id %" PRIu64
                       ": below the next id %" PRIu64,
                       id, s->next_id);
        rc = STORE_INVALID_ARGUMENT;
    } else {
        s->next_id = id;
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}
