/**
 * The dashboard: a page the coordinator serves (routes.ts) that every node links to
 * (node-home.ts). The page itself is browser/ (bundled by scripts/build-dashboard.mjs into
 * dist/dashboard); it verifies epochs with src/epochs/verify-epoch.ts, as `ephemera verify` does.
 */
export { DASHBOARD_PATH, DASHBOARD_TAG, defaultDashboardDir, registerDashboardRoutes } from './routes.js'
export { dashboardUrl, nodeHomePage, registerNodeHome } from './node-home.js'
