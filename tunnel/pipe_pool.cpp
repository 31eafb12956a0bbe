namespace ferry::tunnel {}
