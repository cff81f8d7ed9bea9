//! Step signals over a real Redis Cluster (three private primaries): pub/sub across nodes.

use kaigo_platform::testkit::TestRedisCluster;

use crate::support::{Harness, TestRedisTarget, d};
use crate::watch;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_cluster_a_watcher_on_one_replica_sees_every_step_written_on_another() {
    let cluster = TestRedisCluster::start().await;
    let h = Harness::with_redis(d(2026, 4, 30), TestRedisTarget::Cluster(cluster)).await;
    watch::every_step_written_on_one_replica_reaches_a_watcher_on_another(h).await;
}
