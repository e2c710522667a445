// PM2, one worker per core, sessions shared without Redis:  pm2 start examples/express-cart/ecosystem.config.cjs
// PM2's cluster mode balances the HTTP port between the workers; each worker binds the first free cluster port of
// 4000-4100 and finds the others by probing that range (CLUSTER_DISCOVERY=local), so no worker needs a port or a
// member list of its own, and a worker PM2 restarts pulls every session back from the others.
module.exports = {
  apps: [
    {
      name: 'cart',
      script: './server.js',
      cwd: __dirname,
      exec_mode: 'cluster',
      instances: 'max',
      // The SIGTERM drain (flush replication, leave the cluster) takes under 5 s.
      kill_timeout: 6000,
      env: {
        PORT: '3000',
        CLUSTER_DISCOVERY: 'local',
        CLUSTER_PORT: '4000',
        // One route per worker comes from PM2's NODE_APP_INSTANCE; a secret is needed only off loopback.
      },
    },
  ],
}
