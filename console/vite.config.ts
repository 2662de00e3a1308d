import { defineConfig } from "vite";

// The console is served by `ec2lab serve` from its own binary (src/api/console.rs embeds
// dist/): one index.html and hashed assets under /assets/.
export default defineConfig({
  base: "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsDir: "assets",
    chunkSizeWarningLimit: 2000,
    sourcemap: false,
  },
});
