echo "hello from app1"
