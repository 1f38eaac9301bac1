//! `?limit=&cursor=` on every list, and the `{"items": […], "next_cursor": …}` answer.

use serde::{Deserialize, Serialize};

use super::ApiError;
use crate::store::{Page, PageRequest};

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page: default 50, at most 500.
    #[param(value_type = Option<u32>)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

impl PageQuery {
    pub fn page(&self) -> Result<PageRequest, ApiError> {
        let limit = match self.limit.as_deref().filter(|limit| !limit.is_empty()) {
            None => None,
            Some(text) => match text.parse::<i64>() {
                Ok(limit) if limit >= 1 => Some(limit),
                _ => {
                    return Err(ApiError::validation(
                        "limit",
                        "must be a whole number from 1 to 500",
                    ));
                }
            },
        };
        Ok(PageRequest::new(limit, self.cursor.clone()))
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PageView<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> PageView<T> {
    pub fn from_page<U>(page: Page<U>, view: impl FnMut(U) -> T) -> Self {
        let page = page.map(view);
        Self {
            items: page.items,
            next_cursor: page.next_cursor,
        }
    }
}
