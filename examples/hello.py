import platform
import sys

print("Hello, World!")
print(f"Python {platform.python_version()} on {sys.platform}", file=sys.stderr)
