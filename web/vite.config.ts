/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// `npm run dev` serves the screens with hot reload and forwards the API to a running
// `kaigo dev` (gRPC-Web calls are POSTs to /kaigo.<service>.v1.<Service>/<Method>;
// sign-in uses /auth/*). KAIGO_GATEWAY overrides the gateway address.
const gateway = process.env.KAIGO_GATEWAY ?? "http://127.0.0.1:50051";

export default defineConfig({
  plugins: [react()],
  server: {
    host: "127.0.0.1",
    port: 5173,
    proxy: {
      "^/auth/(config|dev/.*)$": { target: gateway, changeOrigin: true },
      "^/kaigo\\.[a-z]+\\.v1\\.[A-Za-z]+/": { target: gateway, changeOrigin: true },
    },
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 1024,
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
