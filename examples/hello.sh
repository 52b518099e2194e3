#!/usr/bin/env bash
echo "Hello, World!"
