//! A small builder for the dynamic parts of list queries: filters with numbered placeholders
//! (`$1`, which both SQLite and PostgreSQL accept), paging and whitelisted sorting.

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, FromRow};

/// A value bound to a placeholder.
#[derive(Debug, Clone)]
pub(crate) enum Bind {
    Int(i64),
    Text(String),
}

impl From<i64> for Bind {
    fn from(value: i64) -> Self {
        Bind::Int(value)
    }
}

impl From<String> for Bind {
    fn from(value: String) -> Self {
        Bind::Text(value)
    }
}

/// `asc` or `desc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    Asc,
    Desc,
}

impl SortOrder {
    fn sql(self) -> &'static str {
        match self {
            SortOrder::Asc => "ASC",
            SortOrder::Desc => "DESC",
        }
    }
}

/// Which page of a list, in which order. `S` is the resource's whitelisted sort key.
#[derive(Debug, Clone, Copy)]
pub struct ListPage<S> {
    pub page: i64,
    pub limit: i64,
    pub sort: S,
    pub order: SortOrder,
}

/// The `WHERE` clause of a list query and its binds.
#[derive(Debug, Default)]
pub(crate) struct Filter {
    clauses: Vec<String>,
    binds: Vec<Bind>,
}

impl Filter {
    /// Adds a value and returns its placeholder.
    pub fn bind(&mut self, value: Bind) -> String {
        self.binds.push(value);
        format!("${}", self.binds.len())
    }

    /// Adds a condition (combined with AND).
    pub fn and(&mut self, clause: String) {
        self.clauses.push(clause);
    }

    /// `column IN (…)`; nothing when `values` is empty.
    pub fn any_of<V: Into<Bind>>(&mut self, column: &str, values: impl IntoIterator<Item = V>) {
        let placeholders: Vec<String> = values.into_iter().map(|v| self.bind(v.into())).collect();
        if !placeholders.is_empty() {
            self.and(format!("{column} IN ({})", placeholders.join(", ")));
        }
    }

    /// `column >= after AND column < before`, for whichever bounds are given.
    pub fn between(&mut self, column: &str, after: Option<i64>, before: Option<i64>) {
        if let Some(after) = after {
            let p = self.bind(Bind::Int(after));
            self.and(format!("{column} >= {p}"));
        }
        if let Some(before) = before {
            let p = self.bind(Bind::Int(before));
            self.and(format!("{column} < {p}"));
        }
    }

    /// A case-insensitive substring match on a `search_text` column, which holds the
    /// searchable fields lowercased by the server (Unicode-aware on both databases).
    pub fn text_search(&mut self, needle: &str) {
        let escaped = needle
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let p = self.bind(Bind::Text(format!("%{escaped}%")));
        self.and(format!("search_text LIKE {p} ESCAPE '\\'"));
    }

    fn where_sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }

    /// Runs `SELECT {columns} FROM {from} WHERE … ORDER BY … LIMIT … OFFSET …` and the matching
    /// count; returns the page's rows and the total.
    pub async fn fetch_page<'e, T, S>(
        self,
        executor: &sqlx::AnyPool,
        columns: &str,
        from: &str,
        page: &ListPage<S>,
        sort_column: &str,
    ) -> Result<(Vec<T>, i64), sqlx::Error>
    where
        T: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
    {
        let total = self.scalar(executor, "COUNT(*)", from).await?;
        let rows = self
            .fetch_rows(executor, columns, from, page, sort_column)
            .await?;
        Ok((rows, total))
    }

    /// `SELECT {expression} FROM {from} WHERE …`, an integer (a count or a sum).
    pub async fn scalar(
        &self,
        executor: &sqlx::AnyPool,
        expression: &str,
        from: &str,
    ) -> Result<i64, sqlx::Error> {
        let sql = format!("SELECT {expression} FROM {from}{}", self.where_sql());
        let (value,): (i64,) = bind_all(sqlx::query_as(AssertSqlSafe(sql)), &self.binds)
            .fetch_one(executor)
            .await?;
        Ok(value)
    }

    /// `SELECT {columns} FROM {from} WHERE … ORDER BY … LIMIT … OFFSET …`: one page's rows.
    pub async fn fetch_rows<'e, T, S>(
        mut self,
        executor: &sqlx::AnyPool,
        columns: &str,
        from: &str,
        page: &ListPage<S>,
        sort_column: &str,
    ) -> Result<Vec<T>, sqlx::Error>
    where
        T: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
    {
        let order = page.order.sql();
        let limit = self.bind(Bind::Int(page.limit));
        let offset = self.bind(Bind::Int((page.page - 1).saturating_mul(page.limit)));
        let sql = format!(
            "SELECT {columns} FROM {from}{} ORDER BY {sort_column} {order}, id {order} LIMIT {limit} OFFSET {offset}",
            self.where_sql()
        );
        bind_all(sqlx::query_as::<_, T>(AssertSqlSafe(sql)), &self.binds)
            .fetch_all(executor)
            .await
    }
}

type AnyQueryAs<'q, O> = sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments>;

fn bind_all<'q, O>(mut query: AnyQueryAs<'q, O>, binds: &[Bind]) -> AnyQueryAs<'q, O> {
    for bind in binds {
        query = match bind {
            Bind::Int(v) => query.bind(*v),
            Bind::Text(v) => query.bind(v.clone()),
        };
    }
    query
}
