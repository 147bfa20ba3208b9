from jacstab.cli import main

main()
