//! Cursor paging shared by every list: newest first, the cursor is the last id of a page.

/// At most this many items a page, whatever the caller asks for.
pub const MAX_PAGE_SIZE: i64 = 500;
pub const DEFAULT_PAGE_SIZE: i64 = 50;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: i64,
    /// Items strictly older than this id (the previous page's `next_cursor`).
    pub before: Option<String>,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            limit: DEFAULT_PAGE_SIZE,
            before: None,
        }
    }
}

impl PageRequest {
    pub fn new(limit: Option<i64>, before: Option<String>) -> Self {
        Self {
            limit: limit.unwrap_or(DEFAULT_PAGE_SIZE).clamp(1, MAX_PAGE_SIZE),
            before: before.filter(|cursor| !cursor.is_empty()),
        }
    }

    /// Queries fetch one row more than the page holds to learn whether another page follows.
    pub fn fetch_limit(&self) -> i64 {
        self.limit + 1
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from rows fetched with [`PageRequest::fetch_limit`].
    pub fn from_rows(mut rows: Vec<T>, request: &PageRequest, id_of: impl Fn(&T) -> &str) -> Self {
        let page_size = usize::try_from(request.limit).unwrap_or(usize::MAX);
        let more = rows.len() > page_size;
        rows.truncate(page_size);
        let next_cursor = if more {
            rows.last().map(|row| id_of(row).to_owned())
        } else {
            None
        };
        Self {
            items: rows,
            next_cursor,
        }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }

    /// [`Page::map`] with a conversion that may fail.
    pub fn try_map<U, E>(self, f: impl FnMut(&T) -> Result<U, E>) -> Result<Page<U>, E> {
        Ok(Page {
            items: self.items.iter().map(f).collect::<Result<_, _>>()?,
            next_cursor: self.next_cursor,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_is_clamped_and_empty_cursor_ignored() {
        assert_eq!(PageRequest::new(Some(0), None).limit, 1);
        assert_eq!(PageRequest::new(Some(10_000), None).limit, MAX_PAGE_SIZE);
        assert_eq!(PageRequest::new(None, Some(String::new())).before, None);
    }

    #[test]
    fn next_cursor_is_set_only_when_more_rows_exist() {
        let request = PageRequest::new(Some(2), None);
        let page = Page::from_rows(vec!["c", "b", "a"], &request, |s| s);
        assert_eq!(page.items, vec!["c", "b"]);
        assert_eq!(page.next_cursor.as_deref(), Some("b"));
        let last = Page::from_rows(vec!["a"], &request, |s| s);
        assert_eq!(last.next_cursor, None);
    }
}
