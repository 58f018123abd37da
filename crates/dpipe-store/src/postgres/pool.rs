//! The connection pool: r2d2 over sync `postgres` clients, each connection keeping the
//! statements it has prepared, so the hot read paths (a pipe's GET: the caller by token, the
//! pipe, its chain, the grants reaching the caller) are parsed and planned once per connection.

use std::collections::HashMap;

use postgres::types::ToSql;
use postgres::{Client, Config, NoTls, Row, Statement};

/// A connection taken from the pool (returned to it when dropped); the table modules take
/// `&mut Connection`.
pub(super) type Connection = r2d2::PooledConnection<Manager>;

/// One connection and the statements prepared on it, by SQL text.
pub(super) struct PgConnection {
    pub(super) client: Client,
    statements: HashMap<String, Statement>,
}

impl PgConnection {
    /// Runs `sql` as a statement prepared once on this connection and then reused.
    pub(super) fn query_cached(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, postgres::Error> {
        let statement = match self.statements.get(sql) {
            Some(statement) => statement.clone(),
            None => {
                let statement = self.client.prepare(sql)?;
                self.statements.insert(sql.to_owned(), statement.clone());
                statement
            }
        };
        self.client.query(&statement, params)
    }
}

/// Opens connections for r2d2 from a parsed [`Config`] (NoTls: see the module docs of
/// [`PgStore`](super::PgStore)).
pub(super) struct Manager {
    pub(super) config: Config,
}

impl r2d2::ManageConnection for Manager {
    type Connection = PgConnection;
    type Error = postgres::Error;

    fn connect(&self) -> Result<PgConnection, postgres::Error> {
        Ok(PgConnection {
            client: self.config.connect(NoTls)?,
            statements: HashMap::new(),
        })
    }

    fn is_valid(&self, conn: &mut PgConnection) -> Result<(), postgres::Error> {
        conn.client.simple_query("").map(|_| ())
    }

    fn has_broken(&self, conn: &mut PgConnection) -> bool {
        conn.client.is_closed()
    }
}
