<?php
// The demo app: shows which release is serving the request.
$release = basename(realpath(__DIR__ . '/..'));
$version = trim(@file_get_contents(__DIR__ . '/../VERSION') ?: 'unknown');
header('Content-Type: text/plain');
echo "Hello from release {$release} (version {$version})\n";
