#!/bin/sh
# The demo's "build": prints what a composer/npm build would, with short pauses, so the dashboard
# has a log to stream. On the `broken` branch the asset build fails.
pause="${FLIPDECK_DEMO_PAUSE:-0.4}"
step() { echo "$1"; sleep "$pause"; }
step "> composer install --no-dev --optimize-autoloader"
echo "  - Installing symfony/console (v7.1.4): Extracting archive"
echo "  - Installing laravel/framework (v11.9.2): Extracting archive"
step "  Generating optimized autoload files"
step "> npm ci"
echo "  added 214 packages in 2s"
step "> npm run build"
if [ -f BROKEN ]; then
  echo "  ERROR in ./resources/js/app.js: Module not found: 'chart.js'" >&2
  exit 1
fi
echo "  vite v5.2.11 building for production..."
step "  ✓ 42 modules transformed. dist/app.js 88.4 kB"
echo "> php artisan config:cache"
echo "  Configuration cached successfully. Version $(cat VERSION)"
