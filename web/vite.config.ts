import { defineConfig } from 'vite';

// During `npm run dev` the Arclight server is expected on 127.0.0.1:8080;
// the production build is served by the server itself from web/dist.
const backend = 'http://127.0.0.1:8080';

export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    emptyOutDir: true,
  },
  server: {
    proxy: {
      '/api': backend,
      '/ws': { target: backend, ws: true },
      '/healthz': backend,
      '/readyz': backend,
    },
  },
});
