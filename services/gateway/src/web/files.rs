//! The built screens (`web/dist`): files by path, and `index.html` for the screens' own routes.

use std::path::Path;

use tonic::body::Body;
use tower::ServiceExt;
use tower_http::services::{ServeDir, ServeFile};

/// The files of `gateway.web.root`.
pub(super) struct Files {
    dir: ServeDir,
    index: ServeFile,
}

impl Files {
    pub(super) fn new(root: &str) -> Result<Self, String> {
        let index = Path::new(root).join("index.html");
        if !index.is_file() {
            return Err(format!("gateway.web.root: {root} holds no index.html (build the screens: npm run build)"));
        }
        Ok(Self {
            // Precompressed siblings (`.br`, `.gz`) are used when the build made them.
            dir: ServeDir::new(root).precompressed_br().precompressed_gzip(),
            index: ServeFile::new(index),
        })
    }

    /// A path whose last segment has no extension is one of the screens' routes
    /// (`/applications/…`): the single page answers it and routes in the browser. Anything else
    /// is a file, or 404.
    pub(super) async fn answer(&self, request: http::Request<Body>) -> http::Response<Body> {
        let path = request.uri().path();
        let last = path.rsplit('/').next().unwrap_or_default();
        let is_route = !last.contains('.');
        // Vite names every file under /assets/ by its content hash: safe to keep for a year.
        // Everything else (index.html first) is revalidated, so a new release shows at once.
        let cache =
            if path.starts_with("/assets/") && !is_route { "public, max-age=31536000, immutable" } else { "no-cache" };
        let answered =
            if is_route { self.index.clone().oneshot(request).await } else { self.dir.clone().oneshot(request).await };
        let mut response = match answered {
            Ok(response) => response.map(Body::new),
            Err(never) => match never {},
        };
        if response.status().is_success() || response.status() == http::StatusCode::NOT_MODIFIED {
            response.headers_mut().insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static(cache));
        }
        response
    }
}
