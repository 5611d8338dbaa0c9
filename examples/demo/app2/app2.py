echo "hello from app2"
